"""Settings, Integrations in the browser: add an endpoint (its secret shown once), a URL
refused with the reason, send a test and watch it arrive, pause, delete."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect
from svix.webhooks import Webhook

from chatfn.settings import Settings
from tests.utils.receivers import ALLOWED, receiving
from tests.utils.ui import open_app, sign_in


async def test_add_an_endpoint_send_a_test_and_see_it_delivered(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str, screenshots: Path
) -> None:
    await sign_in(context, stack_settings, address)
    await open_app(page)
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("tab", name="Integrations").click()

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
