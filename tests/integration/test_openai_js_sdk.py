"""The official `openai` npm package against `/v1` through the running stack, as a
JavaScript app calls it: Node.js runs tests/sdk-js/client.mjs (`./task setup:sdk-js`
installs the package its lock file pins) with a new user's key. test_openai_api covers the
rest of `/v1` with the Python SDK; this shows the other SDK the issue names reads the same
answers (its own headers, its own SSE parser, its own error classes)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from typing import Any

import pytest

from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import Settings
from tests.integration.test_openai_api import MODEL, create_key
from tests.utils.accounts import browser, client_address, sign_up
from tests.utils.chat import script, words

SDK_JS = PROJECT_ROOT / "tests" / "sdk-js"
CLIENT_TIMEOUT_S = 120.0


async def run_client(settings: Settings, key: str, calls: list[dict[str, Any]]) -> Any:
    """client.mjs's results for `calls`, made with `key` against the gateway's /v1."""
    if not (SDK_JS / "node_modules" / "openai").is_dir():
        pytest.fail("the openai npm package is not installed: run ./task setup:sdk-js")
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not on PATH: the JavaScript SDK's test needs Node.js 20.19+")
    process = await asyncio.create_subprocess_exec(
        node, str(SDK_JS / "client.mjs"), f"http://127.0.0.1:{settings.port}/v1", json.dumps(calls),
        env=os.environ | {"OPENAI_API_KEY": key, "FORWARDED_FOR": client_address()},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT_S):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"client.mjs did not finish within {CLIENT_TIMEOUT_S:.0f} s")
    assert process.returncode == 0, err.decode()
    return json.loads(out)["results"]


async def test_the_javascript_sdk_lists_the_models_completes_whole_and_streamed_and_raises_404(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        key = await create_key(client, user)
    ask = [{"role": "user", "content": script(id=name, tokens=5)}]
    ask_streamed = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": script(id=name, tokens=7)}]  # fmt: skip
    calls: list[dict[str, Any]] = [
        {"call": "models.list"},
        {"call": "chat.completions.create", "params": {"model": MODEL, "messages": ask}},
        {"call": "chat.completions.create",
         "params": {"model": MODEL, "messages": ask_streamed, "stream": True,
                    "stream_options": {"include_usage": True}}},
        {"call": "chat.completions.create",
         "params": {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}},
    ]  # fmt: skip

    models, whole, streamed, unknown = await run_client(stack_settings, key, calls)

    assert MODEL in models["models"]
    assert whole["object"] == "chat.completion"
    assert whole["content"] == words(5)
    assert whole["finish_reason"] == "stop"
    assert whole["usage"]["completion_tokens"] == 5
    assert whole["usage"]["total_tokens"] == whole["usage"]["prompt_tokens"] + 5
    assert streamed["text"] == words(7)
    assert streamed["finish_reason"] == "stop"
    assert streamed["ids"] == 1  # every chunk names the same completion
    # include_usage: a last chunk with the usage alone
    assert streamed["last_chunk"]["choices"] == 0
    assert streamed["last_chunk"]["usage"]["completion_tokens"] == 7
    error = unknown.get("error")
    assert error is not None, unknown
    assert error["not_found"], error  # thrown as OpenAI.NotFoundError
    assert (error["status"], error["code"], error["type"], error["param"]) == (
        404, "model_not_found", "invalid_request_error", "model"
    )  # fmt: skip
