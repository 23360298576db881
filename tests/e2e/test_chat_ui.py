"""Chatting in the browser: streamed replies, reloads mid-answer, branches, stop, offline."""

from __future__ import annotations

import re
from uuid import uuid4

from playwright.async_api import BrowserContext, Page, expect

from chatfn.settings import Settings
from tests.utils.ui import composer, finished, open_app, replies, send, sign_in


def words(count: int) -> str:
    """What the scripted model answers with `tokens=count`, as the page shows it."""
    return " ".join(f"w{i}" for i in range(count))


async def test_sign_up_send_and_watch_the_reply_stream_in(page: Page) -> None:
    await page.goto("/")
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Name").fill("Ada")
    await page.get_by_label("Email").fill(f"ada-{uuid4().hex[:12]}@example.com")
    await page.get_by_label("Password").fill("correct horse battery staple")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()

    await send(page, "Count for me [[script tokens=40 delay_ms=25]]")

    reply = replies(page).last
    await expect(reply).to_contain_text("w3")  # part of it, while it is still being written
    await expect(reply.locator('.reply[aria-busy="true"]')).to_be_visible()
    await expect(finished(reply)).to_have_text(words(40))
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    await expect(page.get_by_role("navigation").get_by_role("link")).to_have_count(1)


async def test_a_reload_mid_answer_continues_where_it_was(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "A long one [[script tokens=120 delay_ms=25]]")
    await expect(replies(page).last).to_contain_text("w10")

    await page.reload()

    await expect(finished(replies(page).last)).to_have_text(words(120), timeout=30_000)


async def test_edit_makes_a_branch_and_the_arrows_walk_between_them(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "First question [[script tokens=3]]")
    await expect(finished(replies(page).last)).to_have_text(words(3))

    question = page.locator(".message-user").last
    await question.hover()
    await question.get_by_role("button", name="Edit message").click()
    await page.get_by_label("Edit message").fill("Second question [[script tokens=5]]")
    await page.get_by_role("button", name="Send", exact=True).click()

    await expect(finished(replies(page).last)).to_have_text(words(5))
    await expect(question.locator(".bubble")).to_have_text("Second question [[script tokens=5]]")
    await expect(question.get_by_label("Version 2 of 2")).to_be_visible()

    await question.hover()
    await question.get_by_role("button", name="Previous version").click()
    await expect(question.locator(".bubble")).to_have_text("First question [[script tokens=3]]")
    await expect(finished(replies(page).last)).to_have_text(words(3))

    await page.reload()  # the branch survives, read back from the history
    await expect(page.locator(".message-user").last.get_by_label("Version 2 of 2")).to_be_visible()


async def test_regenerate_adds_a_sibling_reply(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Once more [[script tokens=4]]")
    reply = replies(page).last
    await expect(finished(reply)).to_have_text(words(4))

    await reply.get_by_role("button", name="Regenerate").click()

    await expect(reply.get_by_label("Version 2 of 2")).to_be_visible()
    await expect(finished(reply)).to_have_text(words(4))


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
    await expect(finished(replies(page).last)).to_have_text(words(2))

    await context.set_offline(True)
    await composer(page).fill("Written on a train [[script tokens=6]]")
    await composer(page).press("Enter")
    await expect(page.get_by_text("Waiting for a connection to send")).to_be_visible()
    await context.set_offline(False)

    await expect(page.get_by_text("Waiting for a connection to send")).to_have_count(0)
    await expect(finished(replies(page).last)).to_have_text(words(6))
    await expect(page.locator(".message-user .bubble")).to_have_count(2)


async def test_a_draft_survives_a_reload(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await composer(page).fill("Half a thought,\nand a second line")

    await page.reload()

    await expect(composer(page)).to_have_value("Half a thought,\nand a second line")
