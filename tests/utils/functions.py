"""Build a function's ASGI app from its file and talk to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http
from functions_framework.aio import create_asgi_app

from chatfn.local.stack import FUNCTIONS_DIR


@asynccontextmanager
async def function_client(name: str) -> AsyncIterator[httpx.AsyncClient]:
    source = str(FUNCTIONS_DIR / f"{name}.py")
    app = create_asgi_app(target=name, source=source)  # type: ignore[no-untyped-call]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
        yield client


async def deliver(client: httpx.AsyncClient, event: CloudEvent, path: str = "/") -> httpx.Response:
    """POST `event` in binary mode, as the broker delivers it."""
    headers, body = to_binary(event)
    return await client.post(path, headers=headers, content=body)


def reply_of(response: httpx.Response) -> CloudEvent:
    """The event a function replied with (Knative reply semantics)."""
    assert response.status_code == 200, response.text
    return from_http(dict(response.headers), response.content)
