"""Talk to the running stack as a browser would: through the gateway, one client address each."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import httpx
from sqlalchemy import update

from chatfn.db import create_engine
from chatfn.identity.sessions import REFRESH_COOKIE, RETRY_GRACE
from chatfn.models import RefreshToken, User
from chatfn.settings import Settings

PASSWORD = "correct horse battery staple"
_addresses = itertools.count(1)


def client_address() -> str:
    """An address of its own (TEST-NET-3, named by `X-Forwarded-For` behind the trusted
    loopback proxy), so per-address rate limits of one test do not touch another's."""
    return f"203.0.{os.getpid() % 256}.{next(_addresses) % 250 + 1}"


@asynccontextmanager
async def browser(
    settings: Settings, address: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway with an address of its own (see `client_address`)."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.port}",
        headers={"x-forwarded-for": address or client_address()},
        timeout=30,
    ) as client:
        yield client


@dataclass
class SignedIn:
    user_id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.access_token}"}


def signed_in(response: httpx.Response) -> SignedIn:
    assert response.status_code in {200, 201}, response.text
    body: dict[str, Any] = response.json()
    return SignedIn(
        user_id=body["user"]["id"],
        email=body["user"]["email"],
        access_token=body["access_token"],
        refresh_token=response.cookies[REFRESH_COOKIE],
    )


def refresh_cookie_attributes(response: httpx.Response) -> dict[str, str | bool]:
    """The attributes the response's Set-Cookie gives the refresh token, names lowercased
    (`{"secure": True, "samesite": "Strict", "path": "/api/auth", ...}`); only those set."""
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(REFRESH_COOKIE)]
    morsel = SimpleCookie(header)[REFRESH_COOKIE]
    return {name: value for name, value in morsel.items() if value}


def refresh_cookie(token: str) -> dict[str, str]:
    """The cookie header a browser sends (httpx keeps `Secure` cookies off plain http)."""
    return {"cookie": f"{REFRESH_COOKIE}={token}"}


async def register(client: httpx.AsyncClient, email: str, **extra: str) -> httpx.Response:
    return await client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD} | extra
    )


async def sign_up(client: httpx.AsyncClient, name: str) -> SignedIn:
    """A new user `name`@example.com, registered and signed in."""
    return signed_in(await register(client, f"{name}@example.com"))


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def refresh(client: httpx.AsyncClient, session: SignedIn) -> httpx.Response:
    return await client.post("/api/auth/refresh", headers=refresh_cookie(session.refresh_token))


async def make_admin(settings: Settings, user_id: str) -> None:
    """Operators grant admin through ADMIN_EMAILS at sign-up; tests promote directly."""
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(update(User).where(User.id == user_id).values(role="admin"))
    await engine.dispose()


async def end_retry_grace(settings: Settings, user_id: str) -> None:
    """As if the user's refreshes so far had happened longer ago than the retry grace."""
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.used_at.is_not(None))
            .values(used_at=RefreshToken.used_at - RETRY_GRACE - timedelta(seconds=1))
        )
    await engine.dispose()
