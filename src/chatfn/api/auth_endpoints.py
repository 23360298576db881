"""`/api/auth`: sign up (through the `register_user` function), sign in, refresh, sign out,
and delete the account (`io.chatfn.user.deleted`, which every holder of its data follows).

The access token goes back in the body, for the UI to keep in memory only; the
refresh token goes in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to this
path, and is replaced by a new one on every refresh.
"""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Cookie, Header, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from uuid6 import uuid7

from chatfn.api.me_endpoints import UserOut, preferences_of
from chatfn.api.problems import not_authenticated
from chatfn.api.security import ApiDep, DbDep, PrincipalDep, UserDep, client_ip
from chatfn.events import rendezvous
from chatfn.events.catalog import UserDeleted, UserRegisterRequested, new_event
from chatfn.identity import accounts
from chatfn.identity.passwords import hash_password, verify_password
from chatfn.identity.sessions import REFRESH_COOKIE, Session, end_all_sessions, end_session, rotate
from chatfn.identity.sessions import start_session as new_session
from chatfn.identity.tokens import InvalidToken
from chatfn.models import User
from chatfn.problems import Problem, unavailable
from chatfn.redis_client import key
from chatfn.text import StoredText

router = APIRouter(prefix="/api/auth", tags=["auth"])
SOURCE = "chatfn/api"
COOKIE_PATH = "/api/auth"
IDEMPOTENCY_TTL_S = 24 * 3600


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    # 256 bounds the hashing work one request can ask for.
    password: str = Field(min_length=8, max_length=256)


class Registration(Credentials):
    display_name: StoredText = Field("", max_length=100)


class SessionOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int
    user: UserOut


async def _session_response(
    api: ApiDep, db: DbDep, session: Session, response: Response
) -> SessionOut:
    response.set_cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        max_age=api.settings.refresh_token_ttl_days * 24 * 3600,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return SessionOut(
        access_token=session.access.token,
        expires_in=session.access.expires_in,
        user=UserOut.of(session.user, await preferences_of(api, db, session.user.id)),
    )


async def _registration_user_id(api: ApiDep, email: str, idempotency_key: str | None) -> str:
    """A fresh user id, or the one an earlier attempt with this `Idempotency-Key` used."""
    user_id = str(uuid7())
    if not idempotency_key:
        return user_id
    digest = hashlib.sha256(f"{email}\n{idempotency_key}".encode()).hexdigest()
    name = key(api.settings, "register-idempotency", digest)
    redis = api.runtime.redis
    if await redis.set(name, user_id, nx=True, ex=IDEMPOTENCY_TTL_S):
        return user_id
    return str(await redis.get(name) or user_id)


@router.post("/register", status_code=201, responses={409: {}, 503: {}})
async def register(
    body: Registration,
    request: Request,
    response: Response,
    api: ApiDep,
    db: DbDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SessionOut:
    """Create an account. A retry with the same `Idempotency-Key` never makes a second one."""
    await api.limits.hit(api.settings.rate_limit_register, "register", client_ip(request))
    email = accounts.normalize_email(body.email)
    user_id = await _registration_user_id(api, email, idempotency_key)
    command = UserRegisterRequested(
        user_id=UUID(user_id),
        email=email,
        display_name=body.display_name.strip() or email.split("@")[0],
    )
    password_hash = await hash_password(body.password)
    await accounts.hand_off_password_hash(
        api.runtime.redis, api.settings, command.user_id, password_hash
    )
    correlation = rendezvous.new_correlation_id(api.settings)
    event = new_event(command, source=SOURCE, extensions={rendezvous.EXTENSION: correlation})
    await api.publish(event, "the sign-up")
    result = await rendezvous.wait_for_result(
        api.runtime.redis, api.settings, correlation, api.settings.register_timeout_s
    )
    if result is None or result.get("reason") == "handoff_expired":
        raise unavailable("the sign-up is taking longer than usual")
    if result["type"] != "io.chatfn.user.registered":
        raise Problem(409, "An account with this email already exists.", title="Email taken")
    user = await db.get(User, command.user_id)
    assert user is not None, "register_user answered before its write committed"
    session = await new_session(db, api.settings, user, request.headers.get("user-agent", ""))
    await db.commit()
    return await _session_response(api, db, session, response)


@router.post("/login", responses={401: {}, 429: {}})
async def login(
    body: Credentials, request: Request, response: Response, api: ApiDep, db: DbDep
) -> SessionOut:
    """Sign in with email and password. Failures are counted per email and per address."""
    email = accounts.normalize_email(body.email)
    identities = [("login-email", email), ("login-ip", client_ip(request))]
    for identity in identities:
        await api.limits.check(api.settings.rate_limit_login, *identity)
    user = await accounts.user_by_email(db, email)
    if not await verify_password(user.password_hash if user else None, body.password):
        for identity in identities:
            await api.limits.hit(api.settings.rate_limit_login, *identity)
        raise Problem(401, "Wrong email or password.", headers={"WWW-Authenticate": "Bearer"})
    assert user is not None
    if user.disabled_at is not None:
        raise Problem(403, "This account is disabled.", title="Account disabled")
    session = await new_session(db, api.settings, user, request.headers.get("user-agent", ""))
    await db.commit()
    return await _session_response(api, db, session, response)


@router.post("/refresh", responses={401: {}})
async def refresh(
    response: Response,
    api: ApiDep,
    db: DbDep,
    chatfn_refresh: Annotated[str | None, Cookie(max_length=200)] = None,
) -> SessionOut:
    """A new access token (and refresh cookie) for the refresh cookie."""
    if not chatfn_refresh:
        raise not_authenticated()
    try:
        session = await rotate(db, api.settings, chatfn_refresh)
    except InvalidToken:
        raise not_authenticated() from None
    await db.commit()
    return await _session_response(api, db, session, response)


def clear_refresh_cookie(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=True, httponly=True)


@router.post("/logout", status_code=204)
async def logout(principal: PrincipalDep, api: ApiDep, db: DbDep, response: Response) -> None:
    """Sign out of this session: its refresh family and its access token stop working."""
    assert principal.claims is not None  # PrincipalDep is a session, never an API key
    await end_session(db, api.runtime.redis, api.settings, principal.claims)
    await db.commit()
    clear_refresh_cookie(response)


@router.post("/logout-all", status_code=204)
async def logout_all(principal: PrincipalDep, api: ApiDep, db: DbDep, response: Response) -> None:
    """Sign out everywhere: every session of this user stops working."""
    await end_all_sessions(db, api.runtime.redis, api.settings, principal.user_id)
    await db.commit()
    clear_refresh_cookie(response)


class AccountDeletion(BaseModel):
    """The password again; an account without one (signed in through the OpenID provider)
    types its email instead."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(None, max_length=1024)
    email: StoredText | None = Field(None, max_length=320)


@router.delete("/account", status_code=204, responses={403: {}, 429: {}})
async def delete_me(
    body: AccountDeletion, user: UserDep, db: DbDep, api: ApiDep, response: Response
) -> None:
    """Delete my account and everything of mine: conversations, usage, API keys, webhooks
    and integrations, shared links, exports. Every session ends at once."""
    attempts = (api.settings.rate_limit_login, "delete-account", str(user.id))
    await api.limits.check(*attempts)
    if user.password_hash is not None:
        confirmed = await verify_password(user.password_hash, body.password or "")
    else:
        confirmed = accounts.normalize_email(body.email or "") == user.email
    if not confirmed:
        await api.limits.hit(*attempts)
        # 403, not 401: the session is fine, the confirmation is not.
        raise Problem(403, "That is not your password.", title="Not confirmed")
    await end_all_sessions(db, api.runtime.redis, api.settings, user.id)
    deleted = UserDeleted(user_id=user.id)
    await accounts.delete_account(db, user, partial(api.publish_fact, deleted, "the deletion"))
    clear_refresh_cookie(response)
