"""Build a function's ASGI app from its file and talk to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import httpx
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http
from functions_framework.aio import create_asgi_app
from starlette.types import ASGIApp
from uuid6 import uuid7

from chatfn import runtime
from chatfn.local.stack import FUNCTIONS_DIR
from chatfn.models import User


def function_app(name: str) -> ASGIApp:
    """The function's ASGI app, built from its file as functions-framework builds it (the
    module is then `sys.modules[name]`)."""
    source = str(FUNCTIONS_DIR / f"{name}.py")
    app: ASGIApp = create_asgi_app(target=name, source=source)  # type: ignore[no-untyped-call]
    return app


@asynccontextmanager
async def function_client(name: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=function_app(name))
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


async def a_user() -> UUID:
    """A user of its own, straight into the functions' database."""
    user_id = uuid7()
    async with runtime.current().sessions.begin() as db:
        db.add(User(id=user_id, email=f"{user_id}@example.com", display_name="T", preferences={}))
    return user_id
