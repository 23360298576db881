"""The sidebar in the browser: rename, pin, delete with undo, the trash (restore, delete for
good), archive, search."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from playwright.async_api import BrowserContext, Locator, Page, Route, expect

from chatfn.settings import Settings
from tests.utils.accounts import browser
from tests.utils.ui import finished, open_app, replies, send, sign_in


async def start_chat(page: Page, text: str) -> None:
    await page.get_by_role("button", name="New chat").first.click()
    await send(page, text)
    await expect(finished(replies(page).last)).to_be_visible()


def chats(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations").get_by_role("link")


def chat_named(page: Page, title: str) -> Locator:
    return page.locator(".conversation", has=page.get_by_role("link", name=title))


async def menu(page: Page, chat: Locator, action: str) -> None:
    await chat.hover()
    await chat.get_by_role("button", name="Options for").click()
    await page.get_by_role("menuitem", name=action).click()


async def test_rename_pin_delete_undo_restore_archive(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await start_chat(page, "One [[script tokens=2]]")
    await start_chat(page, "Two [[script tokens=2]]")
    await expect(chats(page)).to_have_count(2)
    sidebar = page.get_by_role("navigation", name="Conversations")

    await menu(page, page.locator(".conversation").nth(1), "Rename")  # the older chat
    await page.get_by_label("New title").fill("Holiday plans")
    await page.get_by_label("New title").press("Enter")
    await expect(sidebar.get_by_role("link", name="Holiday plans")).to_be_visible()

    await menu(page, chat_named(page, "Holiday plans"), "Pin")
    await expect(sidebar.get_by_role("region", name="Pinned")).to_contain_text("Holiday plans")
    await expect(chats(page).first).to_have_text("Holiday plans")

    await menu(page, chat_named(page, "Holiday plans"), "Delete")
    await expect(chats(page)).to_have_count(1)
    await page.get_by_role("button", name="Undo").click()
    await expect(sidebar.get_by_role("link", name="Holiday plans")).to_be_visible()

    await menu(page, chat_named(page, "Holiday plans"), "Delete")
    await expect(chats(page)).to_have_count(1)
    await page.get_by_role("button", name="Trash & archive").click()
    await page.get_by_role("button", name="Restore Holiday plans").click()
    await page.get_by_role("button", name="Close", exact=True).click()
    await expect(sidebar.get_by_role("link", name="Holiday plans")).to_be_visible()

    await menu(page, chat_named(page, "Holiday plans"), "Archive")
    await expect(chats(page)).to_have_count(1)
    await page.reload()
    await expect(chats(page)).to_have_count(1)
    await page.get_by_role("button", name="Trash & archive").click()
    await page.get_by_role("button", name="Unarchive Holiday plans").click()
    await page.get_by_role("button", name="Close", exact=True).click()
    await expect(chats(page)).to_have_count(2)

    # Deleted for good from the trash: the first click arms the button, the second deletes.
    await menu(page, chat_named(page, "Holiday plans"), "Delete")
    await expect(chats(page)).to_have_count(1)  # its DELETE answered: the trash will hold it
    await page.get_by_role("button", name="Trash & archive").click()
    await page.get_by_role("button", name="Delete forever Holiday plans").click()
    await page.get_by_role("button", name="Confirm delete: Holiday plans").click()
    trash = page.get_by_role("region", name="Trash")
    await expect(trash).to_contain_text("The trash is empty.")
    await page.reload()
    await page.get_by_role("button", name="Trash & archive").click()
    await expect(page.get_by_role("region", name="Trash")).to_contain_text("The trash is empty.")
    await expect(chats(page)).to_have_count(1)


async def test_a_chat_deleted_while_its_title_is_on_the_way_stays_deleted(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await start_chat(page, "Soon gone [[script tokens=2]]")
    chat = page.url.rsplit("/", 1)[-1]
    # After a reply the chat view polls the conversation until it has its generated title.
    # Hold the answer that has it, taken before the delete, until the chat is deleted: a slow
    # network (or a busy machine) can deliver it that late.
    titled = asyncio.Event()
    delivered = asyncio.Event()

    async def late(route: Route) -> None:
        if route.request.method != "GET":
            await route.fallback()
            return
        answer = await route.fetch()
        if (await answer.json())["title"]:
            titled.set()
            await delivered.wait()
        await route.fulfill(response=answer)

    await page.route(f"**/api/conversations/{chat}", late)
    async with asyncio.timeout(60):  # the polls are 1.5, 3, 6, 12, 24 and 48 s apart
        await titled.wait()
    await menu(page, page.locator(".conversation").first, "Delete")
    await expect(chats(page)).to_have_count(0)

    held = f"/api/conversations/{chat}"
    async with page.expect_event(
        "requestfinished", lambda r: r.method == "GET" and r.url.endswith(held)
    ):
        delivered.set()
    # Two frames: the page has read that answer and rendered whatever it made of it.
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    await expect(chats(page)).to_have_count(0)


async def test_search_finds_a_chat_by_any_part_of_its_messages(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    needle = uuid4().hex[:10]
    await start_chat(page, f"About the {needle} project [[script tokens=2]]")
    await start_chat(page, "Something else [[script tokens=2]]")
    await expect(chats(page)).to_have_count(2)

    await page.keyboard.press("Control+k")
    await expect(page.get_by_label("Search chats")).to_be_focused()
    await page.keyboard.type(needle[2:8])

    await expect(chats(page)).to_have_count(1)
    await chats(page).first.click()
    await expect(page.locator(".message-user .bubble")).to_contain_text(needle)

    await page.get_by_label("Search chats").fill("no chat says this")
    await expect(page.get_by_text("No chats match your search.")).to_be_visible()


async def test_the_list_loads_more_as_it_scrolls(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    user = await sign_in(context, stack_settings, address)
    async with browser(stack_settings, address) as client:
        for n in range(45):  # a page is 30
            made = await client.post(
                "/api/conversations", headers=user.auth, json={"title": f"Chat {n}"}
            )
            assert made.status_code == 201
    await open_app(page)
    await expect(chats(page)).to_have_count(30)

    await chats(page).last.scroll_into_view_if_needed()

    await expect(chats(page)).to_have_count(45)
    await expect(chats(page).last).to_have_text("Chat 0")
