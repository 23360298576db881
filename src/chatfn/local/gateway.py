"""The dev gateway on `CHATFN_PORT`: the local stand-in for the production ingress.

It answers `GET /api/health` with each dependency's and each function's state, and
routes every other `/api/...` request to its function (reply streams to `stream_reply`,
the rest to `api`), streaming both ways, as the Knative ingress does in production.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatfn.health import check_all
from chatfn.local.stack import FUNCTION_HEALTH_PATH, Stack, http_health
from chatfn.settings import Settings, get_settings

REPLY_STREAM = re.compile(r"^/api/replies/[^/]+/stream$")
# Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host"}
)  # fmt: skip


async def health(request: Request) -> JSONResponse:
    functions: dict[str, str] = request.app.state.functions
    results, function_results = await asyncio.gather(
        check_all(request.app.state.settings),
        asyncio.gather(*(http_health(url + FUNCTION_HEALTH_PATH) for url in functions.values())),
    )
    results |= dict(zip(functions, function_results, strict=True))
    healthy = all(result.ok for result in results.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "dependencies": {name: asdict(result) for name, result in results.items()},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


def function_for(path: str) -> str:
    """Which function serves `path`: reply streams have their own, everything else is `api`
    (the same split the production ingress makes)."""
    return "stream_reply" if REPLY_STREAM.match(path) else "api"


async def to_function(request: Request) -> Response:
    client: httpx.AsyncClient = request.app.state.client
    forwarded_for = request.headers.get("x-forwarded-for")
    peer = request.client.host if request.client else ""
    headers = [
        (k, v)
        for k, v in request.headers.items()
        if k not in HOP_BY_HOP and not k.startswith("x-forwarded-")
    ]
    headers += [
        ("x-forwarded-for", f"{forwarded_for}, {peer}" if forwarded_for else peer),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
    ]
    upstream = client.build_request(
        request.method,
        request.app.state.functions[function_for(request.url.path)] + request.url.path,
        params=request.url.query,
        headers=headers,
        content=request.stream(),
    )
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.TransportError:
        return JSONResponse(
            {"type": "about:blank", "title": "Bad Gateway", "status": 502,
             "detail": f"the {function_for(request.url.path)} function is not answering"},
            status_code=502, media_type="application/problem+json",
        )  # fmt: skip
    response = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    response.raw_headers = [
        (k, v) for k, v in answer.headers.raw if k.decode().lower() not in HOP_BY_HOP
    ]
    return response


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app (`uvicorn --factory chatfn.local.gateway:create_app`)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # No read timeout: reply streams stay open as long as the model writes.
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
            app.state.client = client
            yield

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/{path:path}", to_function, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.functions = Stack(settings).function_urls()
    return app
