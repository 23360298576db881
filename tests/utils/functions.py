"""Build a function's ASGI app from its file and talk to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import httpx
from argon2 import PasswordHasher
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http
from functions_framework.aio import create_asgi_app
from starlette.types import ASGIApp
from uuid6 import uuid7

from chatfn import runtime
from chatfn.events.catalog import UserRegisterRequested
from chatfn.identity import accounts
from chatfn.identity.sessions import start_session
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


async def deliver_malformed(client: httpx.AsyncClient) -> httpx.Response:
    """POST what no broker sends: JSON with no CloudEvent attributes at all."""
    return await client.post("/", content=b"{}", headers={"content-type": "application/json"})


def reply_of(response: httpx.Response) -> CloudEvent:
    """The event a function replied with (Knative reply semantics)."""
    assert response.status_code == 200, response.text
    return from_http(dict(response.headers), response.content)


async def a_user() -> UUID:
    """A user of its own, straight into the functions' database."""
    user_id = uuid7()
    async with runtime.current().sessions.begin() as db:
        db.add(User(id=user_id, email=f"{user_id}@example.com", display_name="T"))
    return user_id


async def signed_in_user(email: str, role: str = "user") -> str:
    """A registered user's access token, made by the same code the functions run."""
    command = UserRegisterRequested(user_id=uuid4(), email=email, display_name="T")
    context = runtime.current()
    password_hash = PasswordHasher().hash("x" * 12)
    await accounts.hand_off_password_hash(
        context.redis, context.settings, command.user_id, password_hash
    )
    async with context.sessions() as db:
        await accounts.register(db, context.redis, context.settings, command)
        await db.flush()
        user = await db.get(User, command.user_id)
        assert user is not None
        user.role = role  # operators grant admin through ADMIN_EMAILS at sign-up
        session = await start_session(db, context.settings, user)
        await db.commit()
    return session.access.token
