"""Logs as JSON lines on stderr: one object per record, tied to its trace and its event.

Every long-running process calls `configure_logging` once at start (chatfn.serve). A log
collector (in production the cluster's, which reads each container's stderr) parses a
line without a pattern. A line logged while a span is current carries that span's
trace_id and span_id, the ids `chatfn trace` and a trace viewer show. A line logged
inside `about_event` carries the CloudEvent's id and type. Third-party loggers (uvicorn,
aiokafka) propagate to the root logger and come out the same way.

No user id goes into a line, and no token, password, key or prompt: callers log classes,
ids and counts, never a payload. tests/log_secrets.py checks the logs of a whole test run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

# The CloudEvent being handled in this task or thread: (id, type).
_event: ContextVar[tuple[str, str] | None] = ContextVar("chatfn_log_event", default=None)

# The LogRecord attributes a line carries, under the names a reader expects.
_RENAMED = {"levelname": "level", "name": "logger", "exc_info": "exception"}


def configure_logging(service: str, level: int | str = logging.INFO) -> None:
    """Send chatfn's records at `level` or above, and every library's warnings and errors,
    to stderr as JSON lines. Libraries say too much at INFO: httpx a line per request with
    its URL, casbin its whole policy at each enforcer's start. This replaces the root
    logger's handlers, so a second call does not print each line twice."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields=_RENAMED,
            static_fields={"service": service},
            timestamp="time",  # record.created as ISO-8601 in UTC
        )
    )
    # On the handler, not on a logger: a logger's filter never sees records that
    # propagate up from its children (uvicorn.error, aiokafka.conn, ...).
    handler.addFilter(_with_context)
    root = logging.getLogger()
    # Replaced, not closed (as basicConfig(force=True) would): a file a replaced handler
    # writes to may still be its owner's.
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("chatfn").setLevel(level)
    # uvicorn's default config (a uvicorn.Config built without log_config=None) gives its
    # loggers handlers of their own and stops them propagating: they come back to the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        library = logging.getLogger(name)
        library.handlers, library.propagate = [], True
        library.setLevel(logging.NOTSET)


@contextmanager
def about_event(event_id: str, event_type: str) -> Iterator[None]:
    """Every line logged inside carries `event_id` and `event_type`."""
    token = _event.set((event_id, event_type))
    try:
        yield
    finally:
        _event.reset(token)


def _with_context(record: logging.LogRecord) -> bool:
    """Add the current span's ids and the current event's, where there are any. Extra
    attributes of a record become fields of its line."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        record.trace_id = trace.format_trace_id(span.trace_id)
        record.span_id = trace.format_span_id(span.span_id)
    event = _event.get()
    if event is not None:
        record.event_id, record.event_type = event
    return True
