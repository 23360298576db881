"""Share links in the browser: a chat shared from its header, the link opened in a fresh
signed-out browser (the messages as the chat renders them, nothing said later, noindex),
continued there after signing up, and revoked from Settings. Screenshots of each step (the
page on a phone in the dark theme too), and axe finds nothing serious in any."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import uuid4

from playwright.async_api import BrowserContext, Page, expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.utils.accounts import PASSWORD, browser
from tests.utils.chat import conversation_when
from tests.utils.ui import PHONE, NewContext, finished, open_app, replies, send, sign_in

ECHO = "[[script echo]]"  # the scripted model answers with the rest of the message


async def test_share_a_chat_read_it_signed_out_continue_it_and_revoke_it(
    context: BrowserContext,
    page: Page,
    new_context: NewContext,
    stack_settings: Settings,
    address: str,
    screenshots: Path,
) -> None:
    owner = await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, f"Where should I go? {ECHO} Go to **Lisbon** in spring.")
    await expect(finished(replies(page).last)).to_contain_text("Go to Lisbon in spring.")
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    conversation = page.url.rsplit("/", 1)[1]
    async with browser(stack_settings, address) as client:
        await conversation_when(client, owner, conversation, 1)  # the reply is kept

    await page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog", name="Share this chat")
    await expect(dialog).to_contain_text("Messages you send later")
    await dialog.get_by_role("button", name="Create link").click()
    url = await dialog.locator(".integration-url code").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]{43}", url), url
    await page.screenshot(path=screenshots / "share-dialog.png")
    assert await serious_violations(page) == []
    await dialog.get_by_role("button", name="Close").click()

    # Said after the link was made: never on it.
    await send(page, f"And later? {ECHO} A later answer.")
    await expect(finished(replies(page).last)).to_have_text("A later answer.")

    visitor = await new_context()
    shared = await visitor.new_page()
    await shared.goto(url)
    await expect(shared.get_by_text("Where should I go?")).to_be_visible()
    await expect(shared.locator(".message-assistant strong")).to_have_text("Lisbon")
    await expect(shared.get_by_text("A later answer.")).to_have_count(0)
    await expect(shared.locator('meta[name="robots"][content="noindex"]')).to_have_count(1)
    await expect(shared.get_by_role("textbox")).to_have_count(0)
    await shared.screenshot(path=screenshots / "share-page-signed-out.png")
    assert await serious_violations(shared) == []
    phone = await (await new_context(viewport=PHONE, color_scheme="dark")).new_page()
    await phone.goto(url)
    await expect(phone.locator(".message-assistant strong")).to_have_text("Lisbon")
    await phone.screenshot(path=screenshots / "share-page-phone-dark.png")
    assert await serious_violations(phone) == []

    await shared.get_by_role("button", name="Continue this conversation").click()
    await expect(shared.get_by_text("Sign in or create an account to continue")).to_be_visible()
    await shared.get_by_role("button", name="Create an account").click()
    await shared.get_by_label("Name").fill("Visitor")
    await shared.get_by_label("Email").fill(f"visitor-{uuid4().hex[:12]}@example.com")
    await shared.get_by_label("Password").fill(PASSWORD)
    await shared.get_by_role("button", name="Sign up").click()
    await expect(shared).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    assert conversation not in shared.url
    await expect(finished(replies(shared).last)).to_contain_text("Go to Lisbon in spring.")
    await expect(shared.get_by_role("navigation").get_by_role("link")).to_have_count(1)
    await shared.screenshot(path=screenshots / "share-continued.png")

    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("tab", name="Shared links").click()
    links = page.locator(".shared-link")
    await expect(links).to_have_count(1)
    await expect(links).to_contain_text("Up to: “Go to **Lisbon** in spring.”")
    await page.screenshot(path=screenshots / "share-settings.png")
    assert await serious_violations(page) == []
    await links.get_by_role("button", name=re.compile("^Revoke")).click()
    await links.get_by_role("button", name=re.compile("^Revoke the link")).click()
    await expect(links).to_have_count(0)

    await shared.goto(url)
    await expect(
        shared.get_by_role("heading", name="This link was revoked or never existed")
    ).to_be_visible()
    await shared.screenshot(path=screenshots / "share-revoked.png")


async def test_share_on_a_phone(
    new_context: NewContext, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    context = await new_context(viewport=PHONE)
    await sign_in(context, stack_settings, address)
    page = await context.new_page()
    await open_app(page)
    await send(page, f"A question from a phone {ECHO} A short answer.")
    await expect(finished(replies(page).last)).to_have_text("A short answer.")

    share = page.get_by_role("button", name="Share", exact=True)
    await expect(share).to_be_enabled()
    box = await share.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]  # in the header, not pushed off it
    await share.click()
    await expect(page.get_by_role("dialog", name="Share this chat")).to_be_visible()
    await page.screenshot(path=screenshots / "share-dialog-phone.png")
    assert await serious_violations(page) == []
