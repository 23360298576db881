"""Driving the web UI in the browser tests: signing in, sending, reading replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

from playwright.async_api import BrowserContext, Locator, Page, ViewportSize, expect

from chatfn.identity.sessions import REFRESH_COOKIE
from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, register, signed_in
from tests.utils.chat import words

DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=375, height=740)


@dataclass
class Guard:
    """What went wrong in the pages of a test's browser contexts (tests/e2e/conftest.py
    fails the test on anything here)."""

    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


class NewContext(Protocol):
    """The `new_context` fixture: a guarded browser context on the UI."""

    async def __call__(self, **options: Any) -> BrowserContext: ...


async def sign_in(context: BrowserContext, settings: Settings, address: str) -> SignedIn:
    """A new account, signed in in `context` the way a returning visitor is: by the
    refresh cookie alone."""
    email = f"ui-{uuid4().hex[:12]}@example.com"
    async with browser(settings, address) as client:
        session = signed_in(await register(client, email))
    await context.add_cookies(
        [
            {
                "name": REFRESH_COOKIE,
                "value": session.refresh_token,
                "domain": "127.0.0.1",
                "path": "/api/auth",  # the server's own, so its rotated cookie replaces this one
                "httpOnly": True,
                "secure": True,
                "sameSite": "Strict",
            }
        ]
    )
    return session


async def open_app(page: Page, path: str = "/") -> None:
    await page.goto(path)
    await expect(composer(page)).to_be_visible()


def screenshot_folder(settings: Settings) -> Path:
    """Where the tests leave a stack's screenshots for people to look at (a CI artifact)."""
    folder = settings.home / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message", exact=True)


async def send(page: Page, text: str, model: str = "scripted") -> None:
    await page.get_by_label("Model").select_option(model)
    await composer(page).fill(text)
    await composer(page).press("Enter")


def replies(page: Page) -> Locator:
    return page.locator(".message-assistant")


def answer(count: int) -> str:
    """The scripted model's answer of `count` tokens, as the page shows it."""
    return words(count).strip()


def finished(reply: Locator) -> Locator:
    """The reply once its stream has ended (its actions only show then)."""
    return reply.locator('.reply[aria-busy="false"]')


@dataclass(frozen=True)
class Look:
    """A guarded page (tests/e2e/conftest.py `look`) on one device in one colour scheme."""

    context: BrowserContext
    page: Page
    device: str  # desktop | phone
    scheme: str  # light | dark

    @property
    def phone(self) -> bool:
        return self.device == "phone"

    def shot(self, screenshots: Path, what: str) -> Path:
        """Where a screenshot of `what` in this look goes."""
        return screenshots / f"{self.device}-{self.scheme}-{what}.png"
