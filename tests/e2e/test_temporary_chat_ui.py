"""A temporary chat in the browser: answered with the whole chat the tab holds, still there
after a reload, never in the sidebar nor the history, and gone once left. axe and
screenshots in both themes, on desktop and phone."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import BrowserContext, Locator, Page, expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.utils.accounts import SignedIn, browser
from tests.utils.chat import model_stats, script
from tests.utils.ui import Look, finished, open_app, replies, send, sign_in

HELD = "sessionStorage.getItem('chatfn:temporary')"


def badge(page: Page) -> Locator:
    """The header's Temporary badge, which leaves the temporary chat when pressed."""
    return page.get_by_role("button", name="Temporary chat", pressed=True)


async def history(settings: Settings, session: SignedIn, address: str) -> list[object]:
    async with browser(settings, address) as client:
        listed = await client.get("/api/conversations", headers=session.auth)
    assert listed.status_code == 200, listed.text
    conversations: list[object] = listed.json()["conversations"]
    return conversations


async def test_a_temporary_chat_is_answered_from_the_tab_and_kept_nowhere_else(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, name: str
) -> None:
    session = await sign_in(context, stack_settings, address)
    await open_app(page)
    await page.get_by_role("switch", name="Temporary chat").click()
    await expect(page).to_have_url(re.compile(r"/temporary$"))
    await expect(page.get_by_text("not saved to your history")).to_be_visible()

    await send(page, f"{script(id=name, echo=True)} Remember the word heron")
    await expect(finished(replies(page).last)).to_have_text("Remember the word heron")
    await send(page, f"{script(id=name, echo=True)} Which word was it?")
    await expect(finished(replies(page).nth(1))).to_have_text("Which word was it?")

    # The follow-up was answered from the whole chat, which only the tab holds.
    asked = (await model_stats(stack_settings))["prompts"][name]
    assert [(turn["role"], turn["content"]) for turn in asked[1:]] == [
        ("user", f"{script(id=name, echo=True)} Remember the word heron"),
        ("assistant", "Remember the word heron"),
        ("user", f"{script(id=name, echo=True)} Which word was it?"),
    ]

    await page.reload()
    await expect(finished(replies(page).nth(1))).to_have_text("Which word was it?")
    await expect(page.locator(".message-user .bubble")).to_have_count(2)
    await expect(badge(page)).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/temporary$"))
    sidebar = page.get_by_role("navigation", name="Conversations")
    await expect(sidebar.get_by_text("Your chats will appear here.")).to_be_visible()
    await expect(sidebar.get_by_role("link")).to_have_count(0)
    assert await history(stack_settings, session, address) == []

    # Leaving asks nothing and clears it: coming back finds a new one.
    await page.get_by_role("button", name="New chat").first.click()
    await expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()
    assert await page.evaluate(HELD) is None
    await page.get_by_role("button", name="Temporary chat", exact=True).click()
    await expect(page.get_by_role("heading", name="Temporary chat", level=2)).to_be_visible()
    await expect(replies(page)).to_have_count(0)
    assert await history(stack_settings, session, address) == []


async def test_stop_ends_a_temporary_answer_and_regenerate_replaces_it(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page, "/temporary")
    await send(page, "Do not stop [[script tokens=400 delay_ms=30]]")
    await expect(replies(page).last).to_contain_text("w5")

    await page.get_by_role("button", name="Stop generating").click()
    reply = replies(page).last
    await expect(reply.get_by_text("Stopped.")).to_be_visible()
    assert "w399" not in await reply.inner_text()
    # No edit, no rating, no branches: nothing of it is on the server to act on.
    await expect(page.get_by_role("button", name="Edit message")).to_have_count(0)
    await expect(page.get_by_role("button", name="Good response")).to_have_count(0)

    await reply.get_by_role("button", name="Regenerate").click()
    await expect(replies(page)).to_have_count(1)
    await expect(page.locator(".message-user")).to_have_count(1)
    await expect(replies(page).last.locator('.reply[aria-busy="true"]')).to_be_visible()
    await page.get_by_role("button", name="Stop generating").click()
    await expect(replies(page).last.get_by_text("Stopped.")).to_be_visible()


async def test_no_serious_accessibility_violations_and_screenshots(
    look: Look, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    context, page = look.context, look.page
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await page.get_by_role("button", name="Temporary chat", exact=True).click()
    await expect(badge(page)).to_be_visible()
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "temporary-chat-empty"))

    echo = script(echo=True)
    await send(page, f"{echo} A **temporary** answer:\n\n- kept in this tab\n- gone when it closes")
    await expect(finished(replies(page).last)).to_contain_text("gone when it closes")
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "temporary-chat"))
