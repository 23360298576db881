"""Chatting in the browser: streamed replies, reloads mid-answer, branches, stop, offline."""

from __future__ import annotations

import asyncio
import re
from uuid import UUID, uuid4

from playwright.async_api import BrowserContext, Page, expect

from chatfn.settings import Settings
from tests.utils.accounts import browser
from tests.utils.chat import conversation_when, long_history, script, stored_feedback
from tests.utils.ui import PHONE, answer, composer, finished, open_app, replies, send, sign_in


async def test_sign_up_send_and_watch_the_reply_stream_in(page: Page) -> None:
    await page.goto("/")
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Name").fill("Ada")
    await page.get_by_label("Email").fill(f"ada-{uuid4().hex[:12]}@example.com")
    await page.get_by_label("Password").fill("correct horse battery staple")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()

    # Slow enough (4 s) that the reply is still being written when the page is next polled.
    await send(page, "Count for me [[script tokens=40 delay_ms=100]]")

    reply = replies(page).last
    # Part of it, while it is still being written: both in the same look at the page.
    await expect(reply.locator('.reply[aria-busy="true"]')).to_contain_text("w3")
    await expect(finished(reply)).to_have_text(answer(40))
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    chat = page.get_by_role("navigation").get_by_role("link")
    await expect(chat).to_have_count(1)
    await expect(chat).to_have_text(re.compile(r"^w0 w1"))  # the generated title arrived
    stored = await page.evaluate(
        "JSON.stringify([document.cookie, {...localStorage}, {...sessionStorage}])"
    )
    assert "eyJ" not in stored  # no token (a JWT) anywhere a script can read it back


async def test_a_reload_mid_answer_continues_where_it_was(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "A long one [[script tokens=120 delay_ms=50]]")
    await expect(replies(page).last).to_contain_text("w10")

    await page.reload()

    # Still being written after the reload: the page picked up the live stream, rather than
    # a reply that happened to end before the reload.
    await expect(replies(page).last.locator('.reply[aria-busy="true"]')).to_be_visible()
    await expect(finished(replies(page).last)).to_have_text(answer(120), timeout=30_000)


async def test_edit_makes_a_branch_and_the_arrows_walk_between_them(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "First question [[script tokens=3]]")
    await expect(finished(replies(page).last)).to_have_text(answer(3))

    question = page.locator(".message-user").last
    await question.hover()
    await question.get_by_role("button", name="Edit message").click()
    await page.get_by_label("Edit message").fill("Second question [[script tokens=5]]")
    await page.get_by_role("button", name="Send", exact=True).click()

    await expect(finished(replies(page).last)).to_have_text(answer(5))
    await expect(question.locator(".bubble")).to_have_text("Second question [[script tokens=5]]")
    await expect(question.get_by_label("Version 2 of 2")).to_be_visible()

    await question.hover()
    await question.get_by_role("button", name="Previous version").click()
    await expect(question.locator(".bubble")).to_have_text("First question [[script tokens=3]]")
    await expect(finished(replies(page).last)).to_have_text(answer(3))

    await page.reload()  # the branch survives, read back from the history
    await expect(page.locator(".message-user").last.get_by_label("Version 2 of 2")).to_be_visible()


async def test_regenerate_adds_a_sibling_reply(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Once more [[script tokens=4]]")
    reply = replies(page).last
    await expect(finished(reply)).to_have_text(answer(4))

    await reply.get_by_role("button", name="Regenerate").click()

    await expect(reply.get_by_label("Version 2 of 2")).to_be_visible()
    await expect(finished(reply)).to_have_text(answer(4))


async def test_stop_ends_the_reply_early(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Do not stop [[script tokens=400 delay_ms=30]]")
    await expect(replies(page).last).to_contain_text("w5")

    await page.get_by_role("button", name="Stop generating").click()

    reply = replies(page).last
    await expect(reply.get_by_text("Stopped.")).to_be_visible()
    assert "w399" not in await reply.inner_text()
    await expect(page.get_by_role("button", name="Send message")).to_be_visible()


async def test_a_message_written_offline_is_sent_when_the_connection_returns(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Online [[script tokens=2]]")
    await expect(finished(replies(page).last)).to_have_text(answer(2))

    await context.set_offline(True)
    await composer(page).fill("Written on a train [[script tokens=6]]")
    await composer(page).press("Enter")
    await expect(page.get_by_text("Waiting for a connection to send")).to_be_visible()
    await context.set_offline(False)

    await expect(page.get_by_text("Waiting for a connection to send")).to_have_count(0)
    await expect(finished(replies(page).last)).to_have_text(answer(6))
    await expect(page.locator(".message-user .bubble")).to_have_count(2)


async def test_a_draft_survives_a_reload(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await composer(page).fill("Half a thought,\nand a second line")

    await page.reload()

    await expect(composer(page)).to_have_value("Half a thought,\nand a second line")


async def test_a_dropped_connection_mid_answer_resumes_by_itself(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Through a tunnel [[script tokens=150 delay_ms=40]]")
    await expect(replies(page).last).to_contain_text("w10")

    await context.set_offline(True)
    await expect(replies(page).last.get_by_text("Offline.")).to_be_visible()
    await context.set_offline(False)

    await expect(finished(replies(page).last)).to_have_text(answer(150), timeout=30_000)


async def test_a_failed_reply_shows_why_and_try_again_recovers(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, name: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Flaky " + script(id=name, tokens=3, status=503, status_times=4))

    reply = replies(page).last
    await expect(reply.get_by_role("alert")).to_be_visible(timeout=30_000)
    await reply.get_by_role("button", name="Try again").click()

    await expect(finished(reply)).to_have_text(answer(3))
    await expect(reply.get_by_label("Version 2 of 2")).to_be_visible()


async def test_thumbs_up_is_recorded(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    user = await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Rate me [[script tokens=2]]")
    reply = replies(page).last
    await expect(finished(reply)).to_be_visible()

    # The button shows the rating at once; the database has it once the request is answered.
    async with page.expect_response(re.compile(r"/api/messages/[^/]+/feedback$")) as posted:
        await reply.get_by_role("button", name="Good response").click()
    assert (await posted.value).status == 204

    await expect(reply.get_by_role("button", name="Good response")).to_have_attribute(
        "aria-pressed", "true"
    )
    conversation = page.url.rsplit("/", 1)[-1]
    async with browser(stack_settings, address) as client:
        history = await conversation_when(client, user, conversation, settled=1)
    reply_id = UUID(history["messages"][-1]["id"])
    assert await stored_feedback(stack_settings, UUID(user.user_id), reply_id) == ("up", "")


async def test_a_thousand_message_chat_is_windowed_and_scrolls_end_to_end(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    user = await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Start [[script tokens=1]]")
    await expect(finished(replies(page).last)).to_be_visible()
    conversation = UUID(page.url.rsplit("/", 1)[-1])
    await long_history(stack_settings, UUID(user.user_id), conversation, 1000)

    await page.reload()

    messages = page.locator(".messages .message")
    await expect(page.get_by_text("message 999", exact=True)).to_be_visible(timeout=30_000)
    assert await messages.count() < 60  # only what is near the viewport is in the page
    await page.locator(".messages").evaluate("element => element.scrollTo(0, 0)")
    await expect(page.get_by_text("message 0", exact=True)).to_be_visible()


async def test_the_view_follows_the_answer_until_the_reader_scrolls_up(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await page.set_viewport_size(PHONE)  # so the answer outgrows the view early
    await open_app(page)
    messages = page.locator(".messages")
    distance_from_end = "e => e.scrollHeight - e.scrollTop - e.clientHeight"
    # Waits, frame by frame in the page, for the view to reach the end: the view follows a
    # grown answer once the virtualizer has measured it, a frame or so later.
    at_the_end = """e => new Promise((resolve) => {
        const check = () => e.scrollHeight - e.scrollTop - e.clientHeight < 50
            ? resolve(true) : requestAnimationFrame(check);
        check();
    })"""
    # Slow enough (10 s) that tokens keep coming through every step below.
    await send(page, "A tall answer [[script tokens=500 delay_ms=20]]")
    await expect(replies(page).last).to_contain_text("w200")
    async with asyncio.timeout(15):  # a deadline for a busy machine; a frame or two suffices
        assert await messages.evaluate(at_the_end) is True
    # ...reached while the answer was still growing: following, not a scroll once it ended.
    assert await replies(page).last.locator('.reply[aria-busy="true"]').count() == 1

    await messages.hover()
    await page.mouse.wheel(0, -3000)  # the reader scrolls up while tokens keep coming
    await expect(page.get_by_role("button", name="Scroll to the latest message")).to_be_visible()
    scrolled_up = await messages.evaluate(distance_from_end)
    await expect(replies(page).last).to_contain_text("w400")
    # Left where the reader is: the answer grew below the view instead of pulling it down
    # (how far the wheel took it depends on the machine's pace, so no fixed figure).
    assert await messages.evaluate(distance_from_end) > scrolled_up > 0

    await page.get_by_role("button", name="Scroll to the latest message").click()
    await expect(finished(replies(page).last)).to_be_visible()
    async with asyncio.timeout(10):  # the scroll is smooth
        assert await messages.evaluate(at_the_end) is True
