"""The shape every event-consuming function shares: decode, handle, answer the broker.

A function is an `aio.http` function (so it can reply with an event) wrapped by
`consumes(...)`: the request becomes a typed `ReceivedEvent`, a bad one is answered
400/422 with a problem body (final: the broker dead-letters it), a `RetryLater` is a
503 (the broker retries), and the handler's result event, if any, goes back to the
broker in the response.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from cloudevents.http import CloudEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatfn.emit import reply
from chatfn.events import EventRejected, Payload, ReceivedEvent, parse_event

Handler = Callable[[ReceivedEvent[Any]], Awaitable[CloudEvent | None]]
Endpoint = Callable[[Request], Awaitable[Response]]
PROBLEM = "application/problem+json"


class RetryLater(Exception):
    """Raise from a handler when the event cannot be handled yet: a 503, which the broker
    retries with backoff (and dead-letters once its retries are spent)."""


def problem_response(exc: EventRejected) -> JSONResponse:
    return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM)


def consumes(*accepted: type[Payload]) -> Callable[[Handler], Endpoint]:
    types = sorted(payload.event_type for payload in accepted)

    def decorate(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            if request.method == "GET":  # a probe, or someone asking what this is
                return JSONResponse({"function": handler.__name__, "consumes": types})
            try:
                received = parse_event(request.headers, await request.body(), *accepted)
            except EventRejected as exc:
                return problem_response(exc)
            try:
                result = await handler(received)
            except RetryLater as exc:
                body = {"title": "Retry later", "status": 503, "detail": str(exc)}
                return JSONResponse(body, status_code=503, media_type=PROBLEM)
            return Response(status_code=202) if result is None else reply(result)

        return endpoint

    return decorate
