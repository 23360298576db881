"""api: the public REST API (`/api/...`), and the door results come back through.

An HTTP function. It publishes commands such as `io.chatfn.user.register.requested`
and consumes `io.chatfn.user.registered` / `io.chatfn.user.register.rejected` at
`/events/register-result` (request-reply). Routes live in `chatfn.api`.
"""

from __future__ import annotations

from functools import cache

from fastapi import FastAPI
from functions_framework import aio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chatfn import runtime
from chatfn.api import create_app


@cache
def _app() -> FastAPI:
    return create_app(runtime.current())


class _Routed(Response):
    """Hands the request, unread, to the FastAPI app: functions-framework gives an HTTP
    function every path, and the app does the routing, validation and OpenAPI."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@aio.http
async def api(request: Request) -> Response:
    return _Routed(_app())
