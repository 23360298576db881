"""One trace per chat: each hop continues the trace its event (or its reply) carries.

The W3C `traceparent` rides on every CloudEvent (the catalog's extension) and, for the
reply stream, beside the reply in Redis: `context_of` turns it back into the parent of
the next hop's span, `current_traceparent` writes the current span into what goes on.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

tracer = trace.get_tracer("chatfn")
_propagator = TraceContextTextMapPropagator()


def context_of(traceparent: str | None) -> Context | None:
    """The context whose span `traceparent` names; None (a new trace) without one."""
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def current_traceparent() -> str | None:
    """The current span as a traceparent; None when nothing is being traced."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")
