"""Every error the API gives is an RFC 9457 problem body (`application/problem+json`)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from chatfn.ratelimit import Exceeded

PROBLEM = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem body."""

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

    def response(self) -> JSONResponse:
        body = {"type": "about:blank", "title": self.title, "status": self.status}
        body |= {"detail": self.detail, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=self.headers, media_type=PROBLEM)


def not_authenticated() -> Problem:
    """The one answer to every authentication failure: nothing in it helps an attacker."""
    return Problem(
        401, "Sign in again: the session is missing, invalid or expired.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def not_found(what: str) -> Problem:
    return Problem(404, f"No such {what}.")


def install(app: FastAPI) -> None:
    """Turn every exception the API can raise into a problem response."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response()

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        return Problem(exc.status_code, str(exc.detail), headers=headers).response()

    async def on_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Locations and messages only: never echo the input (it may be a password).
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
        return Problem(422, detail, extra={"errors": errors}).response()

    async def on_exceeded(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Exceeded)
        return Problem(
            429, f"Too many requests: try again in {exc.retry_after_s} s.",
            headers={"Retry-After": str(exc.retry_after_s)},
        ).response()  # fmt: skip

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exceeded, on_exceeded)
