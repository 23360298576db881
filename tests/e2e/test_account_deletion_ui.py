"""Settings, Delete account in the browser: a wrong password is refused where it was typed,
the right one deletes the account and lands on the sign-in screen, which says so, and that
email no longer signs in. axe and screenshots in both themes, on desktop and phone."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import BrowserContext, Locator, Page, expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.utils.accounts import PASSWORD
from tests.utils.chat import script
from tests.utils.ui import (
    Look,
    answer,
    finished,
    open_app,
    replies,
    send,
    sign_in,
)

DELETED = "Your account was deleted."


async def ask_to_delete(page: Page, phone: bool = False) -> Locator:
    """Settings → General, Delete account… pressed: the password field it asks for."""
    if phone:
        await page.get_by_role("button", name="Open sidebar").click()
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("button", name="Delete account…").click()
    return page.get_by_label("Your password")


def delete_forever(page: Page) -> Locator:
    return page.get_by_role("button", name="Delete my account forever")


async def refuse_a_wrong_password(page: Page, password: Locator) -> None:
    await expect(password).to_be_focused()
    await expect(delete_forever(page)).to_be_disabled()
    await password.fill("not my password")
    await delete_forever(page).click()
    await expect(page.get_by_role("alert")).to_have_text("That is not your password.")
    await expect(password).to_be_focused()


async def test_deleting_my_account_takes_my_password_and_signs_me_out_for_good(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    user = await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, f"Hello {script(tokens=3)}")
    await expect(finished(replies(page).last)).to_have_text(answer(3))

    password = await ask_to_delete(page)
    await refuse_a_wrong_password(page, password)
    await password.fill(PASSWORD)
    await delete_forever(page).click()

    await expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    await expect(page.get_by_text(DELETED)).to_be_visible()
    await page.screenshot(path=screenshots / "desktop-light-account-deleted.png")

    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    # Nor does the refresh cookie bring anyone back.
    await page.reload()
    await expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()


async def test_no_serious_accessibility_violations_and_screenshots(
    look: Look, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    context, page, phone = look.context, look.page, look.phone
    await sign_in(context, stack_settings, address)
    await open_app(page)

    password = await ask_to_delete(page, phone)
    await refuse_a_wrong_password(page, password)
    await delete_forever(page).scroll_into_view_if_needed()
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "delete-account"))

    await password.fill(PASSWORD)
    await delete_forever(page).click()
    await expect(page.get_by_text(DELETED)).to_be_visible()
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "delete-account-signed-out"))
