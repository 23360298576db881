"""Files with messages in the browser: chosen with the paperclip's file input or dropped
on the chat, uploaded at once (chips, a thumbnail for an image, a refusal on the chip of a
file a message cannot carry), taken off again, refused with the model's reason and kept,
then sent and read into the answer (the scripted model echoes the prompt, files and all);
on the sent message, a chip that downloads the very bytes and a thumbnail; after a reload,
the note on a file cut to fit the model's context. axe and screenshots in every look."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from playwright.async_api import BrowserContext, FilePayload, Locator, Page, expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.utils.chat import script
from tests.utils.ui import Look, composer, finished, open_app, replies, sign_in


def png(width: int, height: int) -> bytes:
    """A small PNG of a diagonal colour ramp: something to see in a thumbnail."""
    rows = b"".join(
        b"\x00"
        + b"".join(bytes((40 + 4 * x, 120 + 2 * y, 200 - 2 * (x + y) // 2)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


NOTES = FilePayload(name="notes.txt", mimeType="text/plain",
                    buffer=b"The secret ingredient is cardamom.\n")  # fmt: skip
PICTURE = FilePayload(name="ramp.png", mimeType="image/png", buffer=png(48, 48))
EXTRA = FilePayload(name="bread.csv", mimeType="text/csv", buffer=b"name,flour\nbaguette,500 g\n")
TOOL = FilePayload(name="tool.exe", mimeType="application/x-msdownload", buffer=b"MZ\x90\x00")
# Far beyond the model's context (2048 tokens): only its start is read.
LONG = FilePayload(name="lorem.md", mimeType="", buffer=b"lorem ipsum " * 5000)


async def attach(page: Page, *files: FilePayload) -> None:
    """Choose `files` as the paperclip's file picker would."""
    await page.locator('input[type="file"]').set_input_files(list(files))


def attached(page: Page) -> Locator:
    return page.get_by_role("list", name="Attached files")


async def uploaded(page: Page, count: int) -> None:
    """Once `count` chips are there and none is still uploading."""
    await expect(attached(page).get_by_role("listitem")).to_have_count(count)
    await expect(attached(page).get_by_role("progressbar")).to_have_count(0)


async def test_files_upload_at_once_go_with_the_message_and_download_whole(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, tmp_path: Path
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await attach(page, NOTES, PICTURE, EXTRA)
    await uploaded(page, 3)
    await expect(attached(page)).to_contain_text("notes.txt")
    await expect(attached(page)).to_contain_text("TXT · 35 B")
    await expect(attached(page).get_by_role("img", name="ramp.png")).to_be_visible()

    await page.get_by_role("button", name="Remove bread.csv").click()
    await attach(page, TOOL)
    await expect(attached(page)).to_contain_text(
        "tool.exe: a message can carry text, code, PDF and image files, not "
        "application/x-msdownload."
    )
    await page.get_by_role("button", name="Remove tool.exe").click()
    await uploaded(page, 2)
    assert "bread.csv" not in await attached(page).inner_text()

    # The default model sees no images: its reason, and nothing lost.
    await page.get_by_label("Model").select_option(stack_settings.llm_model)
    question = f"{script(echo=True)} What do these say?"
    await composer(page).fill(question)
    await composer(page).press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("cannot see images (ramp.png)")
    await expect(composer(page)).to_have_value(question)
    await uploaded(page, 2)

    await page.get_by_label("Model").select_option("scripted")
    await page.get_by_role("button", name="Send message").click()

    await expect(finished(replies(page).last)).to_contain_text("The secret ingredient is cardamom.")
    await expect(page.get_by_role("list", name="Attached files")).to_have_count(0)
    sent = page.locator(".message-user").last
    chip = sent.get_by_role("button", name=re.compile(r"^Download notes\.txt\b"))
    await expect(chip).to_contain_text("TXT · 35 B")
    thumbnail = sent.get_by_role("img", name="ramp.png")
    await expect(thumbnail).to_have_attribute("src", re.compile(r"^/storage/"))
    await expect(thumbnail).to_have_js_property("naturalWidth", 48)  # loaded from /storage

    async with page.expect_download() as downloading:
        await chip.click()
    download = await downloading.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert download.suggested_filename == "notes.txt"
    assert saved.read_bytes() == NOTES["buffer"]


async def test_an_edit_goes_with_the_files_it_keeps(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await page.get_by_label("Model").select_option("scripted")
    await attach(page, NOTES, EXTRA)
    await uploaded(page, 2)
    await composer(page).fill(f"{script(echo=True)} What do these say?")
    await composer(page).press("Enter")
    await expect(finished(replies(page).last)).to_contain_text("baguette,500 g")

    question = page.locator(".message-user").last
    await question.hover()
    await question.get_by_role("button", name="Edit message").click()
    await expect(attached(page)).to_contain_text("notes.txtTXT · 35 B")
    await expect(attached(page)).to_contain_text("bread.csv")
    await page.screenshot(path=screenshots / "desktop-light-attachments-edit.png")
    await page.get_by_role("button", name="Remove bread.csv").click()
    await page.get_by_label("Edit message").fill(f"{script(echo=True)} And now?")
    await page.get_by_role("button", name="Send", exact=True).click()

    # The same stored file went again, nothing uploaded: the model read it, not the other.
    await expect(finished(replies(page).last)).to_contain_text("The secret ingredient is cardamom.")
    await expect(finished(replies(page).last)).not_to_contain_text("baguette")
    await expect(question.get_by_label("Version 2 of 2")).to_be_visible()
    await page.reload()  # as the history has it
    edited = page.locator(".message-user").last
    chips = edited.get_by_role("button", name=re.compile(r"^Download "))
    await expect(chips).to_have_count(1)
    await expect(chips).to_have_accessible_name(re.compile(r"^Download notes\.txt\b"))


async def test_the_files_of_a_message_in_every_look(
    look: Look, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    page = look.page
    await sign_in(look.context, stack_settings, address)
    await open_app(page)
    await page.get_by_label("Model").select_option("scripted")
    await attach(page, NOTES, PICTURE, TOOL)
    await expect(attached(page)).to_contain_text("tool.exe: a message can carry")
    # Dragged over the chat, then dropped there.
    dragged = await page.evaluate_handle(
        """([name, text]) => {
            const carried = new DataTransfer();
            carried.items.add(new File([text], name));
            return carried;
        }""",
        [LONG["name"], LONG["buffer"].decode()],
    )
    chat = page.get_by_role("main", name="Chat")
    await chat.dispatch_event("dragenter", {"dataTransfer": dragged})
    await expect(page.get_by_text("Drop files to attach them")).to_be_visible()
    await page.screenshot(path=look.shot(screenshots, "attachments-drop"))
    await chat.dispatch_event("drop", {"dataTransfer": dragged})
    await expect(page.get_by_text("Drop files to attach them")).to_be_hidden()
    await uploaded(page, 4)
    await expect(attached(page)).to_contain_text("lorem.md")
    await composer(page).fill(f"{script(echo=True, tokens=5)} Summarise these for me, please.")
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "attachments-composer"))

    await page.get_by_role("button", name="Remove tool.exe").click()
    await composer(page).press("Enter")
    await expect(finished(replies(page).last)).to_have_text("Summarise these for me, please.")
    sent = page.locator(".message-user").last
    await expect(sent.get_by_text("Only the start of this file was read")).to_be_visible()
    await page.reload()  # and what was read of each file comes with the conversation
    await expect(sent.get_by_text("Only the start of this file was read")).to_be_visible()
    await expect(sent.get_by_role("img", name="ramp.png")).to_have_js_property("naturalWidth", 48)
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "attachments-sent"))
