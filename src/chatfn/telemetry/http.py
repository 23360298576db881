"""Every request a function serves, as a span and a RED measurement.

One middleware for every function (chatfn.serve puts it around the app when telemetry
is on): an event delivery continues the trace of the broker's delivery (`traceparent`
header) or, without one, of the event itself (`ce-traceparent`, binary mode); a
request from a browser starts a trace. The span and `chatfn.handler.duration` are
named after the route template or the event type, never a raw path (ids in paths
would make a series per chat).
"""

from __future__ import annotations

import time

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatfn.telemetry import instruments
from chatfn.telemetry.tracing import context_of, tracer

# Knative probes every few seconds: a span each would bury the chats.
UNTRACED = frozenset({"/healthz"})


class Telemetry:
    def __init__(self, app: ASGIApp, function: str) -> None:
        self.app = app
        self.function = function

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        event_type = headers.get("ce-type")
        parent = context_of(headers.get("traceparent") or headers.get("ce-traceparent"))
        method = scope["method"]
        status = 500  # unless the app answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        with tracer.start_as_current_span(
            f"{method} {self.function}", context=parent, kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                # The router has put the matched route in the scope by now.
                route = getattr(scope.get("route"), "path", None)
                name = event_type or f"{method} {route or self.function}"
                span.update_name(f"{self.function} {event_type}" if event_type else name)
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.response.status_code", status)
                if route:
                    span.set_attribute("http.route", route)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                instruments.handler_duration.record(
                    time.perf_counter() - started,
                    {
                        "function": self.function,
                        "kind": "event" if event_type else "http",
                        "name": name,
                        "outcome": instruments.outcome(status),
                    },
                )
