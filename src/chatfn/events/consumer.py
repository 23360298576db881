"""The shape every event-consuming function shares: decode, handle, answer the broker.

A function is an `aio.http` function (so it can reply with an event) wrapped by
`consumes(...)`: the request becomes a typed `ReceivedEvent`; a bad one, or one the
handler rejects, is answered 400/422 with a problem body (final: the broker
dead-letters it); a `RetryLater`, or a dependency that is down, is a 503 (the broker
retries); any other failure is a 500 (retried, then dead-lettered), logged without the
event's content; the handler's result event, if any, goes back to the broker in the
response.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from cloudevents.http import CloudEvent
from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatfn.events.catalog import EventRejected, Payload, ReceivedEvent, parse_event
from chatfn.events.emit import reply
from chatfn.problems import Problem, crashed
from chatfn.settings import get_settings
from chatfn.telemetry.logs import about_event

Handler = Callable[[ReceivedEvent[Any]], Awaitable[CloudEvent | None]]
Endpoint = Callable[[Request], Awaitable[Response]]


class RetryLater(Exception):
    """Raise from a handler when the event cannot be handled yet: a 503, which the broker
    retries with backoff (and dead-letters once its retries are spent)."""


def consumes(*accepted: type[Payload]) -> Callable[[Handler], Endpoint]:
    types = sorted(payload.event_type for payload in accepted)

    def decorate(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            if request.method == "GET":  # a probe, or someone asking what this is
                get_settings()  # a revision not given what it needs never becomes Ready
                return JSONResponse({"function": handler.__name__, "consumes": types})
            received: ReceivedEvent[Any] | None = None
            try:
                received = parse_event(request.headers, await request.body(), *accepted)
                _describe(trace.get_current_span(), received)
                with about_event(received.event["id"], received.event["type"]):
                    result = await handler(received)
            except EventRejected as exc:
                return exc.response()
            except RetryLater as exc:
                return Problem(503, str(exc), title="Retry later").response()
            except Exception as exc:
                where = f"{handler.__name__} event {received.event['id'] if received else '?'}"
                return crashed(exc, where).response()
            return Response(status_code=202) if result is None else reply(result)

        return endpoint

    return decorate


def _describe(span: trace.Span, received: ReceivedEvent[Any]) -> None:
    """Name the event on its delivery's span (chatfn.telemetry.http made it), so a trace
    can be found by the reply it produced."""
    span.set_attribute("cloudevents.event_id", received.event["id"])
    span.set_attribute("cloudevents.event_type", received.event["type"])
    span.set_attribute("cloudevents.event_source", received.event["source"])
    if reply_id := getattr(received.payload, "reply_id", None):
        span.set_attribute("chatfn.reply_id", str(reply_id))
