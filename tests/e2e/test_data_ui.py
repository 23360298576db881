"""Settings, Data in the browser: Export my data shows the export being made, then a
Download that saves the zip (named as an attachment); a ChatGPT export chosen in the file
input is uploaded by the page (a presigned POST to S3 under the UI's origin, /storage/)
and imported, and the page shows what came in, its chats in the sidebar. axe and
screenshots in both themes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.integration.test_exports import CHATGPT
from tests.utils.chat import script
from tests.utils.ui import (
    DESKTOP,
    PHONE,
    NewContext,
    answer,
    finished,
    open_app,
    replies,
    send,
    sign_in,
)


async def open_data(page: Page, phone: bool = False) -> None:
    """Settings, on the Data tab (on a phone, from the sidebar it opens first)."""
    if phone:
        await page.get_by_role("button", name="Open sidebar").click()
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("tab", name="Data").click()


async def test_an_export_made_here_downloads_as_a_zip_of_the_chats(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str,
    screenshots: Path, tmp_path: Path,
) -> None:  # fmt: skip
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await send(page, f"{script(tokens=3)} What rises in the oven?")
    await expect(finished(replies(page).last)).to_contain_text(answer(3))
    await open_data(page)

    await page.get_by_role("button", name="Export my data").click()
    exports = page.get_by_role("list", name="Your exports")
    download_button = exports.get_by_role("button", name="Download")
    await expect(download_button).to_be_visible(timeout=30_000)
    await expect(exports).to_contain_text("1 chat,")
    await expect(page.get_by_role("button", name="Export my data")).to_be_enabled()
    assert await serious_violations(page) == []
    await page.screenshot(path=screenshots / "desktop-light-data-export-ready.png")
    async with page.expect_download() as downloading:
        await download_button.click()
    download = await downloading.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)

    assert download.suggested_filename.startswith("chatfn-export-")
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(saved) as archive:
        document = json.loads(archive.read("conversations.json"))
    [conversation] = document["conversations"]
    assert [m["role"] for m in conversation["messages"]] == ["user", "assistant"]
    assert conversation["messages"][0]["content"].endswith("What rises in the oven?")


@pytest.mark.parametrize(("device", "scheme"), [("desktop", "light"), ("phone", "dark")])
async def test_a_chatgpt_export_chosen_here_is_uploaded_and_shows_what_came_in(
    new_context: NewContext, stack_settings: Settings, address: str, screenshots: Path,
    device: str, scheme: str,
) -> None:  # fmt: skip
    phone = device == "phone"
    context = await new_context(viewport=PHONE if phone else DESKTOP, color_scheme=scheme)
    page = await context.new_page()
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await open_data(page, phone)

    await page.get_by_label("File to import").set_input_files(CHATGPT)
    imports = page.get_by_role("list", name="Your imports")
    await expect(imports).to_contain_text("3 chats and 11 messages from a ChatGPT export")
    await expect(imports).to_contain_text("7 hidden or tool messages left out")
    await expect(page.get_by_role("alert")).to_have_count(0)  # no refused upload
    assert await serious_violations(page) == []
    await page.screenshot(path=screenshots / f"{device}-{scheme}-data-imported.png")
    # Once Settings is closed the history (on a phone, the sidebar Settings was opened from)
    # holds the imported chats, without a reload.
    await page.keyboard.press("Escape")
    await expect(page.get_by_text("Sourdough starter smells like acetone")).to_be_visible()
