"""The REST API's errors: every exception it can raise becomes a problem body
(`chatfn.problems`), including the ones nobody expected. Under `/v1/` the same errors take
OpenAI's shape instead (`{"error": {"message", "type", "param", "code"}}`), which its
SDKs turn into their own exceptions, and a request OpenAI would call invalid is a 400."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from chatfn.api.limits import Exceeded
from chatfn.problems import Contained, Problem

OPENAI_PREFIX = "/v1/"
# OpenAI's error `type` by status.
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}

# What a 422 may echo of the request: enough to find each mistake, never the request
# itself (it may be a password), and bounded however many mistakes one body holds.
MAX_ERRORS = 20


def not_authenticated() -> Problem:
    """The one answer to every authentication failure: nothing in it helps an attacker."""
    return Problem(
        401, "Sign in again: the session is missing, invalid or expired.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def invalid_api_key(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"},
                   extra={"code": "invalid_api_key"})  # fmt: skip


def not_found(what: str) -> Problem:
    return Problem(404, f"No such {what}.")


def _short(loc: tuple[int | str, ...]) -> list[int | str]:
    # A location names fields the client sent (an extra key's name is the client's text).
    return [part[:64] if isinstance(part, str) else part for part in loc]


def openai_body(problem: Problem) -> dict[str, Any]:
    """`problem` as OpenAI's API words an error."""
    kind = OPENAI_TYPES.get(
        problem.status, "server_error" if problem.status >= 500 else "api_error"
    )
    error = {"message": problem.detail, "type": kind, "param": problem.extra.get("param"),
             "code": problem.extra.get("code")}  # fmt: skip
    return {"error": error}


def openai_error(problem: Problem) -> JSONResponse:
    return JSONResponse(openai_body(problem), status_code=problem.status, headers=problem.headers)


def respond(request: Request, problem: Problem) -> JSONResponse:
    if request.url.path.startswith(OPENAI_PREFIX):
        return openai_error(problem)
    return problem.response()


def install(app: FastAPI) -> None:
    """Turn every exception the API can raise into a problem response."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return respond(request, exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        return respond(request, Problem(exc.status_code, str(exc.detail), headers=headers))

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
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
        if request.url.path.startswith(OPENAI_PREFIX):
            param = ".".join(map(str, errors[0]["loc"][1:])) if errors else None
            return openai_error(Problem(400, detail, extra={"param": param}))
        return Problem(422, detail, extra={"errors": errors}).response()

    async def on_exceeded(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Exceeded)
        return respond(request, Problem(
            429, f"Too many requests: try again in {exc.retry_after_s} s.",
            headers={"Retry-After": str(exc.retry_after_s)}, extra={"code": "rate_limit_exceeded"},
        ))  # fmt: skip

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exceeded, on_exceeded)
    app.add_middleware(Contained, where="api")
