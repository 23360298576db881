"""Who is asking: the request's client address, its access token or API key, its rate
limits. An API key is let through only where an endpoint asks for one of its scopes
(`with_scope`): everything else, managing keys and the password included, refuses it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal
from uuid import UUID

import httpx
import openai
from cloudevents.http import CloudEvent
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.api.limits import RateLimits
from chatfn.api.problems import invalid_api_key, not_authenticated
from chatfn.chat.replies import Reply
from chatfn.chat.watch import Watcher
from chatfn.events import pending
from chatfn.events.catalog import Payload, UserProvisioned, new_event
from chatfn.events.emit import SinkRefused, publish
from chatfn.identity import accounts, api_keys
from chatfn.identity.oidc import oidc_verifier
from chatfn.identity.roles import allowed
from chatfn.identity.sessions import is_revoked
from chatfn.identity.tokens import (
    AccessClaims,
    InvalidToken,
    Verifier,
    local_verifier,
    verify_access_token,
)
from chatfn.llm import preparing_detail
from chatfn.models import ApiKey, User
from chatfn.problems import Problem, unavailable
from chatfn.runtime import Runtime
from chatfn.telemetry.tracing import tracer

MODELS_TTL_S = 60.0
PREPARING_TTL_S = 5.0


@dataclass(frozen=True)
class Offered:
    """A model on offer, and whether it answers yet."""

    id: str
    status: Literal["ready", "preparing"]
    detail: str = ""  # how far its preparation is


SOURCE = "chatfn/api"
log = logging.getLogger(__name__)


class Api:
    """What the API's endpoints share: the runtime's clients, the verifiers, the limits."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.limits = RateLimits(self.settings)
        self._models: list[Offered] = []
        self._models_at = -MODELS_TTL_S
        self._models_ttl_s = MODELS_TTL_S
        self.verifiers: dict[str, Verifier] = {
            self.settings.jwt_issuer: local_verifier(self.settings)
        }
        if self.settings.oidc_issuer:
            if self.settings.oidc_issuer == self.settings.jwt_issuer:
                raise ValueError("OIDC_ISSUER must differ from JWT_ISSUER")
            self.verifiers[self.settings.oidc_issuer] = oidc_verifier(self.settings, runtime.http)

    async def models(self) -> list[str]:
        """The models on offer, the default first."""
        return [model.id for model in await self.offered()]

    async def offered(self) -> list[Offered]:
        """The models on offer, the default first, each ready or still being prepared (the
        server lists it with `status: preparing`, as the local stack's does while llama.cpp
        compiles). The listing is asked for at most once a minute (every send that names a
        model checks against it), every few seconds while a model is being prepared."""
        if time.monotonic() - self._models_at > self._models_ttl_s:
            try:
                listed = [model async for model in self.runtime.llm.models.list()]
            except openai.OpenAIError as exc:
                raise unavailable("the model server is not answering", 5) from exc
            default = self.settings.llm_model
            preparing = {
                model.id: detail
                for model in listed
                if (detail := preparing_detail(model)) is not None
            }
            ids = {model.id for model in listed} | set(self.settings.llm_routes) | {default}
            self._models = [
                Offered(
                    model, "preparing" if model in preparing else "ready", preparing.get(model, "")
                )
                for model in sorted(ids, key=lambda model: (model != default, model))
            ]
            self._models_at = time.monotonic()
            self._models_ttl_s = PREPARING_TTL_S if preparing else MODELS_TTL_S
        return self._models

    @cached_property
    def watcher(self) -> Watcher:
        """The process's one reader of reply streams, for `/v1` completions."""
        return Watcher(self.runtime.redis)

    def reply(self, reply_id: UUID) -> Reply:
        return Reply(self.runtime.redis, self.settings, reply_id)

    async def announce(self, fact: Payload, user_id: UUID) -> CloudEvent:
        """Publish a fact `api` decided (a rename, the trash...) for the projection; the
        user's next read waits for it (chatfn.events.pending)."""
        event = new_event(fact, source=SOURCE)
        redis, settings = self.runtime.redis, self.settings
        await pending.expect(redis, settings, user_id, event["id"])
        try:
            await self.publish(event, "the change")
        except Problem:
            await pending.projected(redis, settings, user_id, event["id"])  # it never will be
            raise
        return event

    async def caught_up(self, user_id: UUID) -> None:
        """Wait (bounded) until the projection holds the user's own facts."""
        redis, settings = self.runtime.redis, self.settings
        if not await pending.caught_up(redis, settings, user_id, settings.projection_wait_s):
            log.warning("a read went ahead of its user's changes: persist_history is late")

    async def publish_fact(self, fact: Payload, what: str) -> None:
        """Publish a fact of `api`'s own (or answer 503): see `publish`."""
        await self.publish(new_event(fact, source=SOURCE), what)

    async def publish(self, event: CloudEvent, what: str) -> None:
        """Hand `event` to the broker, or answer 503 (retry later) if it will not take it."""
        try:
            with tracer.start_as_current_span(f"publish {event['type']}", kind=SpanKind.PRODUCER):
                await publish(event, self.settings.k_sink, self.runtime.http)
        except (SinkRefused, httpx.HTTPError) as exc:
            raise unavailable(f"the event broker did not take {what}") from exc


def get_api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


ApiDep = Annotated[Api, Depends(get_api)]


async def get_db(api: ApiDep) -> AsyncIterator[AsyncSession]:
    async with api.runtime.sessions() as session:
        yield session


DbDep = Annotated[AsyncSession, Depends(get_db)]


def client_ip(request: Request) -> str:
    """The caller's address; uvicorn's proxy-headers middleware has already believed
    `X-Forwarded-For` when, and only when, the peer is a trusted proxy."""
    return request.client.host if request.client else "unknown"


async def limit_ip(request: Request, api: ApiDep) -> None:
    await api.limits.hit(api.settings.rate_limit_ip, "ip", client_ip(request))


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    claims: AccessClaims | None  # a session's access token
    key: ApiKey | None = None  # or an API key


_bearer = HTTPBearer(auto_error=False)


async def _user_id(db: AsyncSession, api: Api, claims: AccessClaims) -> UUID:
    if claims.issuer == api.settings.jwt_issuer:
        try:
            return UUID(claims.subject)
        except ValueError:
            raise not_authenticated() from None

    # A token of the OpenID provider: its subject is provisioned as a user on first sight.
    async def announce(user: User) -> None:
        fact = UserProvisioned(user_id=user.id, issuer=claims.issuer,
                               display_name=user.display_name)  # fmt: skip
        await api.publish(new_event(fact, source=SOURCE), "the new account")

    user = await accounts.provision_identity(db, claims, announce)
    if user.disabled_at is not None:
        raise not_authenticated()
    return user.id


async def authenticate(
    api: ApiDep,
    db: DbDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Whoever the bearer is, a session or an API key; endpoints take `PrincipalDep` (a
    session) or `with_scope(...)` (either)."""
    if credentials is None:
        raise not_authenticated()
    if api_keys.looks_like_key(credentials.credentials):
        return await _key_holder(api, db, credentials.credentials)
    try:
        claims = await verify_access_token(credentials.credentials, api.verifiers)
    except InvalidToken:
        raise not_authenticated() from None
    user_id = await _user_id(db, api, claims)
    if await is_revoked(db, api.runtime.redis, api.settings, claims, user_id):
        raise not_authenticated()
    await api.limits.hit(api.settings.rate_limit_user, "user", str(user_id))
    return Principal(user_id=user_id, claims=claims)


async def _key_holder(api: Api, db: AsyncSession, token: str) -> Principal:
    """An API key's owner, counted against the key's rate limit and their own: a key
    never gets more than its owner."""
    key = await api_keys.find(db, api.settings, token)
    owner = await db.get(User, key.user_id) if key else None
    if key is None or owner is None or owner.disabled_at is not None:
        raise invalid_api_key("The API key is invalid, expired or revoked.")
    per_minute = key.requests_per_minute
    rule = f"{per_minute}/minute" if per_minute else api.settings.rate_limit_per_key
    await api.limits.hit(rule, "api-key", str(key.id))
    await api.limits.hit(api.settings.rate_limit_user, "user", str(key.user_id))
    await api_keys.mark_used(db, key)
    return Principal(user_id=key.user_id, claims=None, key=key)


AnyPrincipalDep = Annotated[Principal, Depends(authenticate)]


async def get_principal(principal: AnyPrincipalDep) -> Principal:
    if principal.key is not None:
        raise Problem(403, "API keys cannot use this endpoint; sign in instead.",
                      extra={"code": "api_key_not_allowed"})  # fmt: skip
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def with_scope(scope: str) -> Any:  # FastAPI's Depends() is typed Any
    """A dependency that lets in a signed-in session, or an API key that has `scope`."""

    async def check(principal: AnyPrincipalDep) -> Principal:
        if principal.key is not None and scope not in principal.key.scopes:
            raise Problem(403, f"This API key lacks the {scope!r} scope.",
                          extra={"code": "insufficient_scope"})  # fmt: skip
        return principal

    return Depends(check)


HistoryReaderDep = Annotated[Principal, with_scope("history:read")]


async def current_user(principal: PrincipalDep, db: DbDep) -> User:
    user = await db.get(User, principal.user_id)
    if user is None or user.disabled_at is not None:
        raise not_authenticated()
    return user


UserDep = Annotated[User, Depends(current_user)]


async def get_view(principal: AnyPrincipalDep, api: ApiDep) -> AsyncIterator[AsyncSession]:
    """A session on the projection that holds the user's own changes."""
    await api.caught_up(principal.user_id)
    async with api.runtime.sessions() as session:
        yield session


ViewDep = Annotated[AsyncSession, Depends(get_view)]


def requires(obj: str, action: str) -> Any:  # FastAPI's Depends() is typed Any
    """A dependency that lets the request through only if the user's role allows it."""

    async def check(user: UserDep) -> User:
        if not allowed(user.role, obj, action):
            # 404, not 403: an endpoint a user may not use is one they cannot see.
            raise Problem(404, "Not Found")
        return user

    return Depends(check)
