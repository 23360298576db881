"""Every error chatfn answers with is an RFC 9457 problem body (`application/problem+json`).

`Problem` is the one place such a body is made, for the REST API, the reply streams, the
functions' answers to the broker and the dev gateway alike. `crashed` is the one answer
to an error nobody expected: a 503 with `Retry-After` when a dependency is out (PostgreSQL,
Redis, the broker), a 500 otherwise, logged by class and code location only, because an
exception's message may quote a prompt, an email or a password hash (a SQL error echoes
its parameters).
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

import httpx
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 2


class Problem(Exception):
    """Raise (or build) to answer with a problem body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body(), status_code=self.status, headers=self.headers, media_type=MEDIA_TYPE
        )


def unavailable(why: str, retry_after_s: int = RETRY_AFTER_S) -> Problem:
    """A 503 the client (or the broker) should retry after `retry_after_s`."""
    return Problem(
        503, f"Try again in a moment: {why}.", headers={"Retry-After": str(retry_after_s)}
    )


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says a dependency is unreachable, rather than that the code is wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    outage = (
        OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError,
        httpx.TransportError, ConnectionError, TimeoutError, OSError,
    )  # fmt: skip
    if isinstance(exc, outage):
        return True
    # asyncpg's own connection errors arrive wrapped in SQLAlchemy's DBAPIError.
    cause = getattr(exc, "orig", None) or exc.__cause__
    return cause is not None and cause is not exc and is_outage(cause)


def describe(exc: BaseException) -> str:
    """`exc`'s class chain and where it was raised, without any message or value."""
    names: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(names) < 5:
        names.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames)
    return f"{' from '.join(names)} at {where}"


def crashed(exc: BaseException, where: str) -> Problem:
    """The answer to an unexpected `exc`, logged without anything it may carry."""
    if is_outage(exc):
        log.warning("%s: a dependency is unavailable: %s", where, describe(exc))
        return unavailable("a service chatfn depends on is not answering")
    log.error("%s failed: %s", where, describe(exc))
    return Problem(500, "Something went wrong on our side; it has been logged.")


class Contained:
    """Keeps one request's failure inside that request.

    Starlette answers an unhandled error with a 500 and then raises it again for the
    server to log; under functions-framework that re-raise makes it start a second
    response, uvicorn drops the connection, and whoever's request comes next on that
    pooled connection (another user's, through the gateway) gets a 502. Installed inside
    Starlette's error middleware, this answers the error once, logs it once (`crashed`)
    and lets nothing escape.
    """

    def __init__(self, app: ASGIApp, where: str) -> None:
        self.app = app
        self.where = where

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            problem = crashed(exc, self.where)
            if not started:  # else the answer is under way: it can only end short
                await problem.response()(scope, receive, send)
