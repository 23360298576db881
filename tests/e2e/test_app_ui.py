"""The app as a whole in the browser: themes, phones, accessibility, sessions, shortcuts.

The screenshots it saves (desktop and phone, light and dark) are for people to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import Settings
from tests.utils.accounts import browser as api_client
from tests.utils.ui import (
    PHONE,
    Look,
    NewContext,
    composer,
    finished,
    open_app,
    replies,
    send,
    sign_in,
)

AXE = PROJECT_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CONVERSATION = """[[script echo]]
Here is a small example:

```js
const greet = (name) => `Hello, ${name}!`;
```

| language | typing |
|----------|--------|
| Python   | gradual |"""


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    # Through the DevTools protocol, as Playwright evaluates everything: the page's CSP
    # (rightly) refuses an injected <script>, and the test must run under that CSP.
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    result: dict[str, Any] = await page.evaluate("axe.run(document)")
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


async def test_the_theme_setting_applies_and_is_kept(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")

    await page.get_by_role("button", name="Settings").click()
    await page.get_by_label("Dark").check()
    await page.get_by_label("Custom instructions").fill("Answer briefly.")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")

    await page.reload()
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await page.get_by_role("button", name="Settings").click()
    await expect(page.get_by_label("Custom instructions")).to_have_value("Answer briefly.")


async def test_system_theme_follows_the_device(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await page.emulate_media(color_scheme="dark")
    await open_app(page)
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await page.emulate_media(color_scheme="light")
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")


async def test_no_serious_accessibility_violations_and_a_screenshot(
    look: Look, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    context, page = look.context, look.page
    await page.goto("/")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "sign-in"))

    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, CONVERSATION)
    await expect(finished(replies(page).last).get_by_role("table")).to_be_visible()
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "chat"))


async def test_a_phone_gets_the_whole_chat_and_a_sidebar_on_demand(
    new_context: NewContext, stack_settings: Settings, address: str
) -> None:
    context = await new_context(viewport=PHONE)
    page = await context.new_page()
    await sign_in(context, stack_settings, address)
    await open_app(page)
    sidebar = page.get_by_role("navigation", name="Conversations")
    await expect(sidebar).to_be_hidden()

    await send(page, "Small screen [[script tokens=30]]")
    await expect(finished(replies(page).last)).to_be_visible()
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"]

    await page.get_by_role("button", name="Open sidebar").click()
    await expect(sidebar).to_be_visible()
    await sidebar.get_by_role("link").first.click()
    await expect(sidebar).to_be_hidden()


async def test_an_ended_session_asks_to_sign_in_again_and_keeps_the_draft(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    email = (await sign_in(context, stack_settings, address)).email
    await open_app(page)
    await composer(page).fill("Something I do not want to lose")

    async with api_client(stack_settings, address) as client:
        session = await client.post(
            "/api/auth/login", json={"email": email, "password": "correct horse battery staple"}
        )
        token = session.json()["access_token"]
        ended = await client.post(
            "/api/auth/logout-all", headers={"authorization": f"Bearer {token}"}
        )
        assert ended.status_code == 204
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("button", name="Save").click()

    await expect(page.get_by_text("Your session has ended")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("correct horse battery staple")
    await page.get_by_role("button", name="Log in").click()
    await expect(composer(page)).to_have_value("Something I do not want to lose")


async def test_keyboard_shortcuts_and_their_cheat_sheet(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, "Hi [[script tokens=2]]")
    await expect(finished(replies(page).last)).to_be_visible()

    await page.keyboard.press("Control+/")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(sheet).to_contain_text("New chat")
    await page.keyboard.press("Escape")
    await expect(sheet).to_be_hidden()

    await page.keyboard.press("Control+Shift+O")
    await expect(page.get_by_role("heading", name="How can I help you today?")).to_be_visible()
    await page.get_by_label("Search chats").focus()
    await page.keyboard.press("Shift+Escape")
    await expect(composer(page)).to_be_focused()


@pytest.mark.parametrize("where", ["Log out", "Log out everywhere"])
async def test_logging_out_stays_logged_out_after_a_reload(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, where: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)

    if where == "Log out everywhere":
        await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("button", name=where, exact=True).click()

    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
