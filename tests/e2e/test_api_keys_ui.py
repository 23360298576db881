"""Settings, API keys in the browser: a key created there (read from the field that shows
it once) drives the real `openai` SDK against the gateway's `/v1`; its use shows in the
list and the usage; revoked, the SDK is refused. axe and screenshots in both themes, on
desktop and phone."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import uuid4

import openai
from openai.types.chat import ChatCompletionMessageParam
from playwright.async_api import BrowserContext, Page, expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.utils.accounts import browser
from tests.utils.chat import script, words
from tests.utils.ui import (
    Look,
    answer,
    finished,
    open_app,
    replies,
    sign_in,
)
from tests.utils.waiting import until


async def open_api_keys(page: Page, phone: bool = False) -> None:
    """Settings, on the API keys tab (on a phone, from the sidebar it opens first)."""
    if phone:
        await page.get_by_role("button", name="Open sidebar").click()
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("tab", name="API keys").click()


async def create_key(page: Page, name: str, keep: bool = False) -> str:
    """A key with scope Chat (the form's default), its completions kept in the history or
    not (nor by default), as the field that shows it once reads."""
    await page.get_by_role("button", name="Create key").click()
    await page.get_by_label("Key name").fill(name)
    await expect(page.get_by_role("checkbox", name=re.compile("^Chat"))).to_be_checked()
    await page.get_by_role("checkbox", name=re.compile("^Keep completions")).set_checked(keep)
    await page.get_by_role("button", name="Create key").click()
    key = await page.get_by_role("textbox", name="API key").input_value()
    assert key.startswith("sk-chatfn-")
    return key


def sdk(settings: Settings, key: str, address: str) -> openai.AsyncOpenAI:
    """The `openai` SDK on the gateway's `/v1`, with this test's client address; no retries,
    so a refusal is the answer the test sees."""
    return openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{settings.port}/v1",
        api_key=key,
        default_headers={"x-forwarded-for": address},
        max_retries=0,
    )


async def complete(client: openai.AsyncOpenAI, tokens: int) -> str:
    """One completion by the scripted model, as `/v1/models` lists it (after the stack's
    default, the real model), of `tokens` tokens."""
    listed = [model.id async for model in client.models.list()]
    assert "scripted" in listed[1:], listed
    answer = await client.chat.completions.create(
        model="scripted",
        messages=[{"role": "user", "content": script(id=uuid4().hex, tokens=tokens)}],
    )
    return answer.choices[0].message.content or ""


async def test_a_key_made_here_calls_v1_with_the_openai_sdk_until_revoked(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await open_api_keys(page)
    key = await create_key(page, "Laptop script")
    await page.get_by_role("button", name="Done").click()
    card = page.get_by_role("listitem", name="Laptop script")
    await expect(card).to_contain_text("Last used never")
    await expect(page.get_by_role("textbox", name="API key")).to_have_count(0)

    async with sdk(stack_settings, key, address) as client:
        assert await complete(client, tokens=5) == words(5)

        await page.reload()
        await open_app(page)
        await open_api_keys(page)
        await expect(card).not_to_contain_text("Last used never")
        await expect(card.locator("dd time").nth(1)).to_be_visible()
        usage = page.get_by_role("region", name="Usage", exact=True)
        row = usage.get_by_role("row").filter(has_text="Laptop script")
        await expect(row).to_have_count(1)
        await expect(row.get_by_role("cell").nth(1)).to_have_text("1")
        assert key not in await page.content()

        await card.get_by_role("button", name="Revoke Laptop script").click()
        await card.get_by_role("button", name="Confirm revoke: Laptop script").click()
        await expect(card.get_by_text("Revoked", exact=True).first).to_be_visible()
        await page.screenshot(path=screenshots / "desktop-light-api-key-revoked.png")

        # Refused everywhere within seconds: the next calls find out.
        async def refused() -> bool:
            try:
                await complete(client, tokens=1)
            except openai.AuthenticationError:
                return True
            return False

        await until(refused, within=15)


async def test_no_serious_accessibility_violations_and_screenshots(
    look: Look, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    context, page, phone = look.context, look.page, look.phone
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await open_api_keys(page, phone)
    used = await create_key(page, "Nightly report")
    async with sdk(stack_settings, used, address) as client:
        await complete(client, tokens=3)
    await page.reload()
    await open_app(page)
    await open_api_keys(page, phone)
    await expect(
        page.get_by_role("region", name="Usage", exact=True).get_by_role("table")
    ).to_be_visible()

    await create_key(page, "Laptop script")
    await page.screenshot(path=look.shot(screenshots, "api-keys"))
    how_to = page.get_by_role("region", name="Call it like OpenAI")
    await how_to.get_by_text("How to call it").click()
    assert await serious_violations(page) == []
    await how_to.scroll_into_view_if_needed()
    await page.screenshot(path=look.shot(screenshots, "api-keys-how-to"))
    await page.get_by_role("region", name="Usage", exact=True).scroll_into_view_if_needed()
    await page.screenshot(path=look.shot(screenshots, "api-keys-usage"))

    await page.get_by_role("button", name="Done").click()
    await page.get_by_role("button", name="Create key").click()
    assert await serious_violations(page) == []
    await page.screenshot(path=look.shot(screenshots, "api-keys-form"))


async def test_a_kept_completion_is_a_chat_with_its_system_prompt_set_apart(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    user = await sign_in(context, stack_settings, address)
    await open_app(page)
    await open_api_keys(page)
    key = await create_key(page, "Kept", keep=True)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": script(id=uuid4().hex, tokens=4)},
    ]
    async with sdk(stack_settings, key, address) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="scripted", messages=messages
        )
    assert raw.parse().choices[0].message.content == words(4)
    conversation = raw.headers["chatfn-conversation-id"]

    # The history is a projection: the chat is there once its three messages are.
    async with browser(stack_settings, address) as api:

        async def kept() -> bool:
            found = await api.get(f"/api/conversations/{conversation}", headers=user.auth)
            return found.status_code == 200 and len(found.json()["messages"]) == 3

        await until(kept)
    await open_app(page, f"/c/{conversation}")
    system = page.get_by_role("article", name="System prompt")
    await expect(system).to_contain_text("Answer like a pirate.")
    await expect(system.get_by_role("button")).to_have_count(0)
    await expect(finished(replies(page).last)).to_have_text(answer(4))
    await page.screenshot(path=screenshots / "desktop-light-kept-completion.png")
