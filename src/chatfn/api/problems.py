"""The REST API's errors: every exception it can raise becomes a problem body
(`chatfn.problems`), including the ones nobody expected."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from chatfn.api.limits import Exceeded
from chatfn.problems import Contained, Problem

# What a 422 may echo of the request: enough to find each mistake, never the request
# itself (it may be a password), and bounded however many mistakes one body holds.
MAX_ERRORS = 20


def not_authenticated() -> Problem:
    """The one answer to every authentication failure: nothing in it helps an attacker."""
    return Problem(
        401, "Sign in again: the session is missing, invalid or expired.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def not_found(what: str) -> Problem:
    return Problem(404, f"No such {what}.")


def _short(loc: tuple[int | str, ...]) -> list[int | str]:
    # A location names fields the client sent (an extra key's name is the client's text).
    return [part[:64] if isinstance(part, str) else part for part in loc]


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
        found = exc.errors()
        errors = [
            {"loc": _short(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in found[:MAX_ERRORS]
        ]
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
        if len(found) > MAX_ERRORS:
            detail += f"; and {len(found) - MAX_ERRORS} more"
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
    app.add_middleware(Contained, where="api")
