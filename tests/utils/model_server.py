"""The local stack's `llm` program (chatfn.local.model_server) run by a test on a port of its
own, its preparation a fake build the test writes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.utils.broker import free_port

ALIAS = "SmolLM2-135M-Instruct"
API_KEY = "k"


@contextlib.contextmanager
def preparing_model_server(
    folder: Path, build: str, build_args: list[str], n_ctx: int
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The program serving `ALIAS` once `build` (a Python script, run with `build_args` as
    `CHATFN_MODEL_SETUP`) ends; its base URL and process."""
    port = free_port()
    config = folder / "llama.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": port, "api_key": API_KEY,
                                  "models": [{"model_alias": ALIAS, "n_ctx": n_ctx}]}))  # fmt: skip
    script = folder / "build.py"
    script.write_text(build)
    setup = " ".join([sys.executable, str(script), *build_args])
    process = subprocess.Popen(
        [sys.executable, "-m", "chatfn.local.model_server", "--config", str(config),
         "--port", str(port)],
        env=os.environ | {"CHATFN_MODEL_SETUP": setup}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/v1", process
    finally:
        process.terminate()
        process.wait(timeout=30)
