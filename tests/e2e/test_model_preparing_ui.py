"""The web UI while the local model is being prepared, as on a fresh machine where llama.cpp
compiles for minutes: a stack of its own whose model server is `chatfn.local.model_server`
preparing by a fake build that goes on until the test lets it finish. The notice above the
composer says how far it is, the picker marks the model, a message sent meanwhile is
answered with that detail, and once llama.cpp serves the model the notice goes without a
reload and a message is answered. axe and screenshots in every look."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from chatfn.settings import Settings
from tests.e2e.test_app_ui import serious_violations
from tests.utils.model_server import ALIAS, API_KEY, preparing_model_server
from tests.utils.stack import own_stack
from tests.utils.ui import (
    DESKTOP,
    PHONE,
    Look,
    NewContext,
    composer,
    finished,
    open_app,
    replies,
    screenshot_folder,
    sign_in,
)

MEANWHILE = "You can look around and write meanwhile; replies start once it is ready."
# What `task setup:model` prints while llama.cpp compiles, a step every 2 s, until the
# file named first exists; then the build is done.
FAKE_BUILD = """
import pathlib, sys, time
done = pathlib.Path(sys.argv[1])
for step in range(1, 40):
    if done.exists():
        break
    print(f"    llama.cpp build step [{step}/40]", flush=True)
    time.sleep(2)
while not done.exists():
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def preparing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The model server, preparing until the returned file exists; its base URL."""
    folder = tmp_path_factory.mktemp("preparing")
    done = folder / "done"
    with preparing_model_server(folder, FAKE_BUILD, [str(done)], 2048) as (base_url, _):
        yield base_url, done


@pytest.fixture(scope="module")
def preparing_stack(preparing: tuple[str, Path], worker_id: str) -> Iterator[Settings]:
    """A whole stack beside the shared one, its model server the one being prepared: the
    shared stack's model must stay ready for every other test."""
    home = Path(f"{os.environ.get('CHATFN_HOME', '.local/test')}-preparing-{worker_id}")
    base_url, _ = preparing
    with own_stack(home, LLM_BASE_URL=base_url, LLM_API_KEY=API_KEY, LLM_MODEL=ALIAS) as settings:
        yield settings


@pytest.fixture(scope="module")
def ui_url(preparing_stack: Settings) -> str:
    """The browser contexts of this module open this stack's UI."""
    return f"http://127.0.0.1:{preparing_stack.port}"


@pytest.fixture(scope="module")
def screenshots(preparing_stack: Settings) -> Path:
    return screenshot_folder(preparing_stack)


async def test_the_notice_says_how_far_the_model_is_and_goes_once_it_is_ready(
    new_context: NewContext,
    preparing: tuple[str, Path],
    preparing_stack: Settings,
    screenshots: Path,
    address: str,
) -> None:
    for device in ("desktop", "phone"):
        for scheme in ("light", "dark"):
            context = await new_context(viewport=PHONE if device == "phone" else DESKTOP,
                                        color_scheme=scheme)  # fmt: skip
            look = Look(context, await context.new_page(), device, scheme)
            await sign_in(context, preparing_stack, address)
            await open_app(look.page)
            shown = look.page.get_by_role("status").filter(has_text=MEANWHILE)
            await expect(shown).to_contain_text("The local model is being prepared: llama.cpp is")
            await expect(look.page.get_by_label("Model").locator("option").first).to_have_text(
                f"{ALIAS} (preparing)"
            )
            assert await serious_violations(look.page) == []
            await look.page.screenshot(path=look.shot(screenshots, "model-preparing"))

    # Sending is not blocked: the reply says why it cannot come yet.
    page = look.page
    await composer(page).fill("Hello there")
    await expect(shown).to_be_visible()  # what is written meanwhile leaves it be
    await composer(page).press("Enter")
    failed = replies(page).last.get_by_role("alert")
    await expect(failed).to_contain_text(
        re.compile(r"The local model is being prepared: .+ Try again once it is ready\.")
    )
    await page.screenshot(path=look.shot(screenshots, "model-preparing-reply"))

    # The build ends, llama.cpp serves the model: the notice goes by itself, no reload.
    _, done = preparing
    done.touch()
    await expect(shown).to_have_count(0, timeout=90_000)
    await expect(page.get_by_label("Model").locator("option").first).to_have_text(ALIAS)
    await composer(page).fill("Say hello")
    await composer(page).press("Enter")
    await expect(finished(replies(page).last)).not_to_be_empty(timeout=60_000)
    await expect(replies(page).last.get_by_role("alert")).to_have_count(0)
