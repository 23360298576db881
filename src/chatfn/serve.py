"""One function served as its Knative Service runs it: one process, uvicorn, no gunicorn.

`functions-framework --asgi` runs gunicorn with one uvicorn worker: a master process to
restart the worker and spread load over workers. Knative already does both (one container per
function, restarted by the kubelet, load spread by queue-proxy and the autoscaler), so the
master only added a process and 13-19 MiB of PSS (bench.cold_start) to every function. The
app is still built by functions-framework's own `create_asgi_app`, from the variables it reads
(FUNCTION_TARGET, FUNCTION_SOURCE, FUNCTION_SIGNATURE_TYPE, HOST, PORT) with its defaults, so
a function's code is the same under either:

    chatfn-function                      # or python -m chatfn.serve; options override the env
    chatfn-function --target api --source functions/api.py --port 8081

uvicorn's own server wakes every 100 ms while idle, about 0.12% of a core per process;
`SleepingServer` wakes once a second. Every uvicorn the project runs is one: through `serve`
the functions, and locally the dev gateway and llama.cpp's server (`--factory`) and the
scripted model; the local broker makes its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import os
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from chatfn.settings import TelemetrySettings
from chatfn.telemetry import providers
from chatfn.telemetry.http import Telemetry
from chatfn.telemetry.logs import configure_logging

# gunicorn's keep-alive, which the functions were served with until now (uvicorn's is 5 s).
FUNCTION_KEEP_ALIVE_S = 2
# How long a client of a function may keep an idle connection: it must give it up first.
# A POST sent on a connection the function is closing at that moment is lost with it
# (RFC 9112 section 9.3.1: only idempotent requests may be retried), a 502 at the gateway.
CLIENT_KEEP_ALIVE_S = FUNCTION_KEEP_ALIVE_S / 2
SIGNATURE_TYPES = ("http", "event", "cloudevent", "typed")


class SleepingServer(uvicorn.Server):
    """uvicorn's server, its main loop woken once a second or at once to exit, not every
    100 ms. Each wake does what uvicorn's once-a-second tick does (the Date header, the
    request limit, the exit check)."""

    tick_s = 1.0  # the Date header's resolution: uvicorn refreshes it once a second anyway

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken = asyncio.Event()

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        # on_tick does its once-a-second work when its counter is a multiple of 10, as 0 is.
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._woken.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Signal handler: exit now, not at the next tick. The loop may be blocked in its
        selector until then; call_soon_threadsafe wakes it (its self-pipe), call_soon would not."""
        super().handle_exit(sig, frame)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._woken.set)


def serve(app: ASGIApp | str, **options: Any) -> None:
    """Serve `app` (or the app an import string names) in this process until SIGTERM or
    SIGINT, then finish the requests in flight. `options` are uvicorn.Config's."""
    # log_config=None: uvicorn installs no handlers of its own, so its records reach the
    # root logger's JSON lines (telemetry.logs). No access log: a reply stream's URL
    # carries its single-use ticket.
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning", **options)
    SleepingServer(config).run()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatfn-function", description=__doc__.split("\n")[0])
    # Left None, functions-framework reads FUNCTION_TARGET, FUNCTION_SOURCE (main.py) and
    # FUNCTION_SIGNATURE_TYPE (http) itself.
    parser.add_argument("--target")
    parser.add_argument("--source")
    parser.add_argument("--signature-type", choices=SIGNATURE_TYPES)
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument(
        "--factory",
        metavar="MODULE:CALLABLE",
        help="serve the ASGI app this returns, not a function (locally: dev gateway, llama.cpp)",
    )
    parser.add_argument(
        "--no-default-headers",
        dest="default_headers",
        action="store_false",
        help="no Server and Date headers: the app passes on responses that carry their own",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="the event loop (auto: uvloop where it is installed)",
    )
    return parser


def function_app(arguments: argparse.Namespace) -> ASGIApp:
    """The function as functions-framework builds it."""
    # Imported here: the dev gateway (--factory) has no use for it, nor for the flask it brings.
    from functions_framework.aio import create_asgi_app

    app: ASGIApp = create_asgi_app(arguments.target, arguments.source, arguments.signature_type)  # type: ignore[no-untyped-call]
    return app


def main() -> None:
    # A crash in a C extension (a segfault) leaves each thread's Python traceback in the log.
    faulthandler.enable()
    arguments = _parser().parse_args()
    telemetry = TelemetrySettings()
    target = arguments.target or os.environ.get("FUNCTION_TARGET", "")
    # Before the app is built, whose import may log already; named as its spans are.
    configure_logging(telemetry.service_name or target or "chatfn")
    # Before the app is built: the first request's spans, and the cold start, count.
    traced = providers.configure(telemetry, target)
    options: dict[str, Any] = {
        "host": arguments.host,
        "port": arguments.port,
        "server_header": arguments.default_headers,
        "date_header": arguments.default_headers,
        "loop": arguments.loop,
    }
    if arguments.factory:
        serve(arguments.factory, factory=True, **options)
    else:
        app = function_app(arguments)
        if traced:  # else not even the middleware's call per request
            app = Telemetry(app, telemetry.service_name or target)
        serve(app, timeout_keep_alive=FUNCTION_KEEP_ALIVE_S, **options)


if __name__ == "__main__":
    main()
