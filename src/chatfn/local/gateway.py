"""The dev gateway on `CHATFN_PORT`: the local stand-in for the production ingress and CDN.

It answers `GET /api/health` with the state of each dependency, each function and the
local broker (which can fail to deliver while Kafka itself answers), routes every path of
`chatfn.routes` to its function (reply streams to `stream_reply`, the rest of `/api/...`
to `api`) and `/storage/...` to S3 (`S3_ENDPOINT`), streaming both ways, as the
production edge does. Every other path is the web UI, built into `CHATFN_WEB_DIR`,
served as `chatfn.web` says.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path

import aiohttp
from multidict import CIMultiDict
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from chatfn import routes, web
from chatfn.api.body_limit import BodyLimit
from chatfn.local.health import check_all
from chatfn.local.stack import BROKER, Stack, http_health, own_health_paths
from chatfn.paths import NormalPathsOnly
from chatfn.problems import Problem
from chatfn.serve import CLIENT_KEEP_ALIVE_S
from chatfn.settings import Settings, get_settings
from chatfn.storage import endpoint_url

log = logging.getLogger(__name__)

# Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host"}
)  # fmt: skip
# aiohttp, not httpx, proxies: its C parser costs a fraction of httpx's pure-Python h11
# per streamed chunk, and every token of every reply crosses here. It adds no headers of
# its own and keeps no cookies: what the browser sent is what the function gets.
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept-Encoding", "Accept", "Content-Type"})
# S3 has no use for the session, and must never be handed it. Nor for the gateway's own
# host: SeaweedFS checks a signature against X-Forwarded-Host when it is given, and the
# browser's URL was signed for S3's.
NOT_TO_STORAGE = frozenset({"cookie", "x-forwarded-host"})
# On every answer from S3: a stored HTML or SVG file, opened from the UI's own origin,
# runs nothing and reaches nothing there, whatever type it was uploaded as.
STORAGE_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def health(request: Request) -> JSONResponse:
    # The functions, and the broker: Kafka may answer while events go nowhere.
    own: dict[str, str] = request.app.state.own
    paths = own_health_paths()
    results, own_results = await asyncio.gather(
        check_all(request.app.state.settings),
        asyncio.gather(*(http_health(url + paths[name]) for name, url in own.items())),
    )
    results |= dict(zip(own, own_results, strict=True))
    # A model still being prepared (llama.cpp compiling) answers soon: the rest is usable.
    healthy = all(result.ok or result.preparing for result in results.values())
    preparing = any(result.preparing for result in results.values())
    body = {
        "status": ("preparing" if preparing else "ok") if healthy else "degraded",
        "dependencies": {name: asdict(result) for name, result in results.items()},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


def proxy_client() -> aiohttp.ClientSession:
    """The client `forward` forwards with (`app.state.client`); made in a running loop."""
    # No read timeout: reply streams stay open as long as the model writes.
    timeout = aiohttp.ClientTimeout(total=None, connect=10)
    # Every open reply stream holds a connection: no cap but the functions' own.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=CLIENT_KEEP_ALIVE_S)
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    )


def raw_path(request: Request) -> str:
    """The path as the browser encoded it (a storage signature covers it byte for byte)."""
    raw: bytes | None = request.scope.get("raw_path")
    return raw.decode() if raw else request.url.path


async def forward(
    request: Request, base: str, path: str, upstream: str, dropped: frozenset[str] = frozenset()
) -> Response:
    """Send the request on to `base` + `path` (its query as it came), its body and the
    answer streamed; a 502 problem naming `upstream` when it does not answer."""
    client: aiohttp.ClientSession = request.app.state.client
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
    headers = [(k, v) for k, v in headers if k not in dropped]
    target = base + path
    if request.url.query:
        target += f"?{request.url.query}"
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    try:
        answer = await client.request(
            request.method,
            URL(target, encoded=True),  # as the browser encoded it
            headers=CIMultiDict(headers),
            data=request.stream() if has_body else None,
            skip_auto_headers=SKIP_AUTO_HEADERS,
            auto_decompress=False,  # passed on as it was encoded
            allow_redirects=False,
        )
    except aiohttp.ClientError as exc:
        # The class only: an error's text may carry the URL, and a stream's has its ticket.
        log.warning("%s %s to %s failed: %s", request.method, request.url.path, upstream,
                    type(exc).__name__)  # fmt: skip
        return Problem(502, f"{upstream} is not answering").response()
    response = StreamingResponse(
        answer.content.iter_any(),
        status_code=answer.status,
        background=BackgroundTask(answer.release),
    )
    # Lowercased, as ASGI wants them (and MutableHeaders finds them).
    response.raw_headers = [
        (k.lower(), v) for k, v in answer.raw_headers if k.decode().lower() not in HOP_BY_HOP
    ]
    return response


async def to_function(request: Request, function: str) -> Response:
    base = request.app.state.functions[function]
    return await forward(request, base, raw_path(request), f"the {function} function")


async def to_storage(request: Request) -> Response:
    """S3 under the UI's origin: the prefix stripped, S3's own Host (from its URL)."""
    path = raw_path(request).removeprefix(routes.STORAGE_PREFIX)
    response = await forward(
        request, request.app.state.storage, path, "the storage", dropped=NOT_TO_STORAGE
    )
    response.headers.update(STORAGE_HEADERS)
    return response


NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chatfn</title></head>
<body><h1>The web UI is not built</h1>
<p>Build it with <code>cd web &amp;&amp; npm run build</code> (or <code>./task web:build</code>),
then reload. The API answers under <a href="/api/docs">/api</a>.</p></body></html>
"""


class BuiltUI(StaticFiles):
    """The built UI: its files, and `index.html` for every other path (the UI's own routes,
    `/c/<id>`), but a missing asset or anything outside the build is a 404. StaticFiles
    serves the files (ranges, ETag and 304, no way out of the folder); this adds the
    fallback and the headers, and answers even before the UI is built."""

    def __init__(self, dist: Path) -> None:
        super().__init__(directory=dist, check_dir=False)

    async def check_config(self) -> None:
        """No error for a missing folder: the UI may be built while the gateway runs."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        name = Path(path).as_posix()  # normalised by get_path: `..` resolved, "." the root
        try:
            if name != "." and not web.publishable(name):
                raise HTTPException(404)
            try:
                response = await super().get_response(path, scope)
            except HTTPException as missing:
                if missing.status_code != 404 or Path(name).parts[:1] == ("assets",):
                    raise
                name = web.INDEX
                try:
                    response = await super().get_response(name, scope)
                except HTTPException:
                    response = HTMLResponse(NOT_BUILT, status_code=404)
        except HTTPException as refused:
            name = ""  # no file: revalidate, and plain text
            response = PlainTextResponse(refused.detail, refused.status_code, refused.headers)
        response.headers.update(web.security_headers())
        response.headers["cache-control"] = web.cache_control(name)
        if name and response.status_code != 304:
            response.headers["content-type"] = web.content_type(name)
        return response


class NoSniff:
    """`X-Content-Type-Options: nosniff` on every answer that does not say it already."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("x-content-type-options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_nosniff if scope["type"] == "http" else send)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app (`python -m chatfn.serve --factory chatfn.local.gateway:create_app`)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with proxy_client() as client:
            app.state.client = client
            gc.freeze()  # started: full collections skip all of it (see chatfn.runtime)
            yield

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app = Starlette(
        routes=[
            Route(routes.GATEWAY_HEALTH, health),
            *(
                Route(route.path, partial(to_function, function=route.function), methods=methods)
                for route in routes.ROUTES
            ),
            Route(f"{routes.STORAGE_PREFIX}/{{path:path}}", to_storage, methods=methods),
            Mount("/", BuiltUI(settings.web_dir)),
        ],
        middleware=[
            Middleware(NoSniff),
            # A refused path may be a page's: it gets the UI's headers (CSP...) too.
            Middleware(NormalPathsOnly, headers=web.security_headers()),
            # As an edge does (a proxy's body limit): refused here, a body never sent
            # does not hold a connection to `api` open waiting for it. Not on uploads to
            # S3 (512 MiB), which the POST policy caps.
            Middleware(BodyLimit, unlimited=(f"{routes.STORAGE_PREFIX}/",)),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    stack = Stack(settings)
    app.state.functions = stack.function_urls()
    app.state.storage = endpoint_url(settings)
    broker = stack.broker_url()
    app.state.own = app.state.functions | ({BROKER: broker} if broker else {})
    return app
