"""Settings, Integrations in the browser: add an endpoint (its secret shown once), a URL
refused with the reason, send a test and watch it arrive, pause, delete; add an inbound
integration and see the chat its signed message starts."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect
from svix.webhooks import Webhook

from chatfn.settings import Settings
from tests.integration.test_inbound import signed
from tests.utils.accounts import browser
from tests.utils.chat import script
from tests.utils.receivers import ALLOWED, receiving
from tests.utils.ui import open_app, sign_in


async def open_integrations(
    context: BrowserContext, page: Page, settings: Settings, address: str
) -> None:
    """A new account's Settings, on the Integrations tab."""
    await sign_in(context, settings, address)
    await open_app(page)
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("tab", name="Integrations").click()


async def test_add_an_endpoint_send_a_test_and_see_it_delivered(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    await open_integrations(context, page, stack_settings, address)

    async with receiving(ALLOWED) as receiver:
        await page.get_by_role("button", name="Add endpoint").click()
        await page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hook")
        await page.get_by_label("io.chatfn.reply.completed").check()
        await page.get_by_role("button", name="Add endpoint").last.click()
        await expect(page.get_by_role("alert")).to_contain_text("loopback")

        await page.get_by_label("Endpoint URL").fill(receiver.url)
        await page.get_by_role("button", name="Add endpoint").last.click()
        secret = await page.get_by_role("textbox", name="Signing secret").input_value()
        assert secret.startswith("whsec_")
        await page.screenshot(path=screenshots / "desktop-light-integrations.png")

        await page.get_by_role("button", name=f"Send test to {receiver.url}").click()
        await page.get_by_role("button", name=f"Recent deliveries to {receiver.url}").click()
        deliveries = page.get_by_role("list", name="Recent deliveries")
        await expect(deliveries).to_contain_text("io.chatfn.webhook.tested")
        await expect(deliveries).to_contain_text("HTTP 200")
        [seen] = receiver.seen
        Webhook(secret).verify(seen.body, dict(seen.headers))
        assert json.loads(seen.body)["type"] == "io.chatfn.webhook.tested"

        await page.get_by_role("button", name=f"Pause {receiver.url}").click()
        await expect(page.locator(".endpoint")).to_contain_text("Paused")
        await page.get_by_role("button", name=f"Delete {receiver.url}").click()
        await page.get_by_role("button", name=f"Confirm delete: {receiver.url}").click()
        await expect(page.locator(".endpoint")).to_have_count(0)


async def test_an_integration_added_here_starts_a_chat_with_a_signed_message(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    await open_integrations(context, page, stack_settings, address)

    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_label("Integration name").fill("Helpdesk")
    await page.get_by_role("button", name="Add integration").click()
    secret = await page.get_by_role("textbox", name="Signing secret").input_value()
    assert secret.startswith("whsec_")
    integration = page.get_by_role("listitem", name="Helpdesk")
    url = await integration.locator(".integration-url code").inner_text()
    assert url.startswith(f"http://127.0.0.1:{stack_settings.port}/api/inbound/")
    await integration.get_by_text("How to call it").click()
    await expect(integration.locator("pre")).to_contain_text(f'URL = "{url}"')
    await page.screenshot(path=screenshots / "desktop-light-inbound-integration.png")

    message = {"content": f"{script(tokens=2)} Hi", "model": "scripted"}
    async with browser(stack_settings, address) as client:
        headers, body = signed(secret, message)
        accepted = await client.post(url, headers=headers, content=body)
    assert accepted.status_code == 202, accepted.text

    started = accepted.json()["conversation_id"]
    await page.reload()
    chats = page.get_by_role("navigation", name="Conversations")
    await expect(chats.locator(f'a[href="/c/{started}"]')).to_be_visible()
