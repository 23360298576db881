"""The web UI in a real browser: Debian's Chromium driven by Playwright, against the UI the
test stack's gateway serves from `web/dist` (`./task test` builds it first).

Every page fails its test on an uncaught script error or a Content-Security-Policy
violation, so a test that only looks at one thing still guards both. A test that needs a
browser context of its own (another viewport, colour scheme...) makes it with `new_context`,
which guards it the same way; no test builds one from `browser` directly.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from chatfn.settings import Settings
from tests.utils.accounts import client_address
from tests.utils.ui import DESKTOP, PHONE, Guard, Look, NewContext, screenshot_folder

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
# Reported to the test as they happen (an exposed binding), so a violation on a page that
# has since reloaded or navigated is not lost with that page's window.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = event.target instanceof Element ? event.target.outerHTML.slice(0, 120) : "";
  window.__reportCspViolation(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""
# Generous: a 2-core CI machine runs the whole stack and two browsers at once. A deadline,
# not a wait: every expect() returns as soon as its condition holds.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def ui_url(stack_settings: Settings) -> str:
    index = stack_settings.web_dir / "index.html"
    assert index.is_file(), f"{index} is missing: build the UI with `./task web:build`"
    return f"http://127.0.0.1:{stack_settings.port}"


@pytest.fixture(scope="session")
def screenshots(stack_settings: Settings) -> Path:
    return screenshot_folder(stack_settings)


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
def guard() -> Guard:
    return Guard()


@pytest.fixture
async def new_context(
    browser: Browser, ui_url: str, address: str, guard: Guard
) -> AsyncIterator[NewContext]:
    """Makes browser contexts on the UI (options as `Browser.new_context`, the defaults
    being the desktop viewport and this test's client address) whose every page fails the
    test on an uncaught script error or a CSP violation."""
    contexts: list[BrowserContext] = []

    async def make(**options: Any) -> BrowserContext:
        # The guard is only as good as the policy it watches.
        assert not options.get("bypass_csp"), "a guarded context keeps the page's CSP"
        context = await browser.new_context(
            **{
                "base_url": ui_url,
                "viewport": DESKTOP,
                "extra_http_headers": {"x-forwarded-for": address},
                **options,
            }
        )
        contexts.append(context)
        context.set_default_timeout(15_000)
        context.on("weberror", lambda e: guard.page_errors.append(e.error.stack or str(e.error)))
        await context.expose_function(
            "__reportCspViolation", lambda violation: guard.csp_violations.append(violation)
        )
        await context.add_init_script(REPORT_CSP_VIOLATIONS)
        return context

    yield make
    for context in contexts:
        await context.close()
    assert guard.page_errors == []
    assert guard.csp_violations == []


@pytest.fixture
async def context(new_context: NewContext) -> BrowserContext:
    return await new_context()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture(
    params=[(device, scheme) for device in ("desktop", "phone") for scheme in ("light", "dark")],
    ids="-".join,
)
async def look(request: pytest.FixtureRequest, new_context: NewContext) -> Look:
    """A page in each look the UI is checked in, a device by a colour scheme: a test that
    takes it runs four times, for its screenshots and its accessibility check."""
    device, scheme = request.param
    context = await new_context(viewport=PHONE if device == "phone" else DESKTOP,
                                color_scheme=scheme)  # fmt: skip
    return Look(context, await context.new_page(), device, scheme)
