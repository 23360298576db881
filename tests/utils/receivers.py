"""Webhook receivers for tests: real HTTP servers that record what reaches them."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict

# Exempted by the test policy and the test stack (WEBHOOK_ALLOWED_NETWORKS), while
# 127.0.0.1 stays refused as loopback.
ALLOWED = "127.0.0.2"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    host: str  # the Host header
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class Receiver:
    address: str
    port: int
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/hook"


async def answer_ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="thanks")


@asynccontextmanager
async def receiving(
    address: str,
    handler: Handler = answer_ok,
    port: int = 0,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Receiver]:
    """An HTTP server on `address` that records each request, then answers with `handler`."""
    sock = socket.socket()
    sock.bind((address, port))
    receiver = Receiver(address, sock.getsockname()[1])

    async def record(request: web.Request) -> web.StreamResponse:
        seen = Seen(request.host, CIMultiDict(request.headers), await request.read())
        receiver.seen.append(seen)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    # Cancelled when the client hangs up, so a slow handler does not hold up cleanup.
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=tls).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()
