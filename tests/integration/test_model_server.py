"""The local stack's `llm` program (chatfn.local.model_server) on a machine where the model
is still being prepared: it answers at once, as a server whose model is not ready (listed
`preparing`, with how far the build is; completions a 503 `model_preparing`), and when the
preparation ends it is llama.cpp's server serving the real model, the same process on the
same port, with no restart."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from chatfn.local.health import check
from chatfn.local.model_server import Preparation
from chatfn.settings import Settings
from tests.utils.model_server import ALIAS, API_KEY, preparing_model_server
from tests.utils.waiting import once

# What `task setup:model` prints while llama.cpp compiles, slowed down; then done.
FAKE_BUILD = """
import sys, time
for step in (1, 11, 21):
    print(f"    llama.cpp build step [{step}/40]", flush=True)
    time.sleep(float(sys.argv[1]))
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def model_server(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The program, its preparation the fake build (`step_s`, `exit_code` from the test's
    parameters); its base URL and process."""
    step_s, exit_code = request.param
    with preparing_model_server(tmp_path, FAKE_BUILD, [str(step_s), str(exit_code)], 512) as served:
        yield served


async def listed(base_url: str) -> dict[str, object]:
    """The first model `GET /v1/models` lists, once the port answers."""
    async with asyncio.timeout(60):
        while True:
            try:
                async with httpx.AsyncClient() as client:
                    answer = await client.get(
                        f"{base_url}/models", headers={"authorization": "Bearer k"}
                    )
                model: dict[str, object] = answer.json()["data"][0]
                return model
            except httpx.HTTPError:
                await asyncio.sleep(0.2)


@pytest.mark.parametrize("model_server", [(1.5, 0)], indirect=True)
async def test_the_model_is_listed_as_preparing_then_served_by_the_same_process(
    model_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base_url, process = model_server
    settings = Settings(LLM_BASE_URL=base_url, LLM_API_KEY=API_KEY, LLM_MODEL=ALIAS)
    first = await once(lambda: listed(base_url), lambda model: "compiled" in str(model["detail"]))
    health = await check("llm", settings)
    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        await client.chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "Hi"}]
        )
    model = await once(lambda: listed(base_url), lambda m: "status" not in m, within=120)
    await once(lambda: check("llm", settings), lambda health: health.ok, within=60)
    answer = await client.chat.completions.create(
        model=ALIAS, messages=[{"role": "user", "content": "Say hello"}], max_tokens=4
    )

    assert first["id"] == ALIAS
    assert first["status"] == "preparing"
    assert "llama.cpp is" in str(first["detail"])
    assert health.preparing
    assert not health.ok
    assert "compiled" in health.detail
    assert refused.value.status_code == 503
    assert refused.value.code == "model_preparing"
    assert model["id"] == ALIAS
    assert answer.choices[0].message.content
    assert process.poll() is None  # the same process all along


@pytest.mark.parametrize("model_server", [(0.1, 3)], indirect=True)
async def test_a_failed_preparation_is_said_and_kept_saying(
    model_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base_url, _ = model_server
    model = await once(
        lambda: listed(base_url), lambda m: "could not be prepared" in str(m["detail"])
    )
    assert model["status"] == "preparing"
    assert "ended with 3" in str(model["detail"])


def test_the_time_left_is_read_from_the_compilers_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 160.0])  # the first step read, then the detail asked for
    monkeypatch.setattr("chatfn.local.model_server.time.monotonic", lambda: next(clock))
    preparation = Preparation()
    assert preparation.detail() == "The local model is being prepared (installing llama.cpp)."
    preparation.read("    llama.cpp build step [1/100]")  # compiling since 100 s
    preparation.read("    llama.cpp build step [25/100]")
    # A quarter in 60 s: three quarters left, 180 s.
    assert preparation.detail() == (
        "The local model is being prepared: llama.cpp is 25% compiled, about 3 min left."
    )
