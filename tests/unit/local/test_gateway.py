"""The dev gateway's storage route, with an in-process aiohttp server standing in for S3:
what the gateway forwards (path, query, Host, headers, body) is what that server received,
so what must never reach S3 (the session's cookie, the gateway's own host) is checked where
it would arrive. A function's route forwards both, which shows the check can fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy
from starlette.applications import Starlette

from chatfn.local.gateway import STORAGE_HEADERS, create_app, proxy_client
from chatfn.settings import Settings

BODY = b"x" * (3 * 1024 * 1024)  # over the 1 MiB cap on every other path
SIGNED = "/chatfn-attachments/a%20b/k.zip?X-Amz-Credential=key%2F20260101%2Fs3&X-Amz-Signature=ab"


@dataclass
class Received:
    """What the stand-in was sent, one entry per request."""

    paths: list[str] = field(default_factory=list)
    headers: list[CIMultiDictProxy[str]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


@pytest.fixture
async def s3() -> AsyncIterator[tuple[str, Received]]:
    """An HTTP server on a free loopback port that records each request and answers as an
    S3 object would, with a permissive CSP of its own."""
    received = Received()

    async def record(request: web.Request) -> web.Response:
        received.paths.append(request.raw_path)
        received.headers.append(request.headers)
        received.sizes.append(len(await request.read()))
        return web.Response(
            body=b"<script>alert(1)</script>",
            content_type="text/html",
            headers={"Content-Security-Policy": "default-src *"},
        )

    app = web.Application(client_max_size=len(BODY) + 1)
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", received
    await runner.cleanup()


@pytest.fixture
async def app(tmp_path: Path, s3: tuple[str, Received]) -> AsyncIterator[Starlette]:
    """The gateway as `chatfn up` builds it, S3 and `api` both the stand-in."""
    app = create_app(Settings(CHATFN_HOME=tmp_path, CHATFN_WEB_DIR=tmp_path / "dist"))
    app.state.storage = app.state.functions["api"] = s3[0]
    async with proxy_client() as client:
        app.state.client = client
        yield app


@pytest.fixture
async def gateway(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chatfn.test") as client:
        yield client


async def test_storage_gets_the_path_unprefixed_and_the_query_byte_for_byte_with_its_own_host(
    gateway: httpx.AsyncClient, s3: tuple[str, Received]
) -> None:
    url, received = s3
    answer = await gateway.post(f"/storage{SIGNED}", content=BODY,
                                headers={"cookie": "chatfn_refresh=secret"})  # fmt: skip

    assert answer.status_code == 200
    assert received.paths == [SIGNED]
    assert received.sizes == [len(BODY)]  # not refused at 1 MiB
    [headers] = received.headers
    assert headers["host"] == url.removeprefix("http://")  # what a presigned GET signs
    assert "cookie" not in headers  # the session never reaches S3
    assert "x-forwarded-host" not in headers  # nor the gateway's host, signed against
    assert headers["x-forwarded-for"] == "127.0.0.1"


async def test_every_storage_answer_is_sandboxed_whatever_s3_says(
    app: Starlette, gateway: httpx.AsyncClient
) -> None:
    stored = await gateway.get("/storage/chatfn-attachments/page.html")
    app.state.storage = "http://127.0.0.1:1"  # nothing listens there
    down = await gateway.get("/storage/chatfn-attachments/page.html")

    assert stored.headers["content-type"].startswith("text/html")
    assert down.status_code == 502
    assert down.json()["detail"] == "the storage is not answering"
    for answer in (stored, down):
        for name, value in STORAGE_HEADERS.items():
            assert answer.headers.get_list(name) == [value], name


async def test_a_function_still_gets_the_cookie_and_the_host(
    gateway: httpx.AsyncClient, s3: tuple[str, Received]
) -> None:
    """The contrast: what the storage route drops, a function's route forwards."""
    await gateway.get("/api/me", headers={"cookie": "chatfn_refresh=secret"})
    too_large = await gateway.post("/api/me", content=BODY)

    [headers] = s3[1].headers
    assert headers["cookie"] == "chatfn_refresh=secret"
    assert headers["x-forwarded-host"] == "chatfn.test"
    assert too_large.status_code == 413
