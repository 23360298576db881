"""The web UI in a real browser: Debian's Chromium driven by Playwright, against the UI the
test stack's gateway serves from `web/dist` (`./task test` builds it first).

Every page fails its test on an uncaught script error or a Content-Security-Policy
violation, so a test that only looks at one thing still guards both.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Error, Page, async_playwright

from chatfn.settings import Settings
from tests.utils.accounts import client_address
from tests.utils.ui import DESKTOP

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Chromium as root needs --no-sandbox; without the network flags it keeps calling
# Google's hosts, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = event.target instanceof Element ? event.target.outerHTML.slice(0, 120) : "";
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


@pytest.fixture(scope="session")
def ui_url(stack_settings: Settings) -> str:
    index = stack_settings.web_dir / "index.html"
    assert index.is_file(), f"{index} is missing: build the UI with `./task web:build`"
    return f"http://127.0.0.1:{stack_settings.port}"


@pytest.fixture(scope="session")
def screenshots(stack_settings: Settings) -> Path:
    """Where the tests leave screenshots for people to look at (a CI artifact)."""
    folder = stack_settings.home / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium() -> Path:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `./task test` installs Debian's chromium"
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
def address() -> str:
    """The client address of this test's browser and of the API calls made for it."""
    return client_address()


@pytest.fixture
async def context(browser: Browser, ui_url: str, address: str) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        base_url=ui_url,
        viewport=DESKTOP,
        extra_http_headers={"x-forwarded-for": address},
    )
    context.set_default_timeout(15_000)
    await context.add_init_script(RECORD_CSP_VIOLATIONS)
    yield context
    await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    errors: list[Error] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    assert errors == []
    if not page.is_closed():
        assert await page.evaluate("window.__cspViolations") == []
