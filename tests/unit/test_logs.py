"""chatfn.telemetry.logs: one JSON object per line, tied to the current span and event."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from chatfn.telemetry.logs import about_event, configure_logging

log = logging.getLogger("chatfn.test")


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What the root logger writes once configure_logging has set it up (its handler
    redirected from stderr), then the root logger as it was before."""
    root, chatfn = logging.getLogger(), logging.getLogger("chatfn")
    handlers, levels = root.handlers[:], (root.level, chatfn.level)
    configure_logging("test_service")
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    handler.setStream(out)
    yield out
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    chatfn.setLevel(levels[1])


def lines(logged: io.StringIO) -> list[dict[str, Any]]:
    """What was logged, each line parsed: any line that is not JSON fails here."""
    return [json.loads(line) for line in logged.getvalue().splitlines()]


def test_a_line_is_json_with_time_level_logger_message_and_service(
    logged: io.StringIO,
) -> None:
    log.info("sent %d events", 3)

    (line,) = lines(logged)
    logged_at = datetime.fromisoformat(line.pop("time"))
    assert logged_at.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - logged_at).total_seconds()) < 60
    assert line == {
        "level": "INFO",
        "logger": "chatfn.test",
        "message": "sent 3 events",
        "service": "test_service",
    }


def test_libraries_log_their_warnings_the_same_way_and_not_their_chatter(
    logged: io.StringIO,
) -> None:
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/stream?ticket=t")
    logging.getLogger("uvicorn.error").warning("from uvicorn")
    logging.getLogger("aiokafka.conn").error("from aiokafka")

    assert [(line["logger"], line["level"], line["service"]) for line in lines(logged)] == [
        ("uvicorn.error", "WARNING", "test_service"),
        ("aiokafka.conn", "ERROR", "test_service"),
    ]


def test_a_line_logged_in_a_span_carries_its_trace_and_span_ids(
    logged: io.StringIO,
) -> None:
    # A provider of the test's own: the global one stays the API's no-op.
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("handle") as span:
        log.warning("inside")
    log.warning("outside")

    inside, outside = lines(logged)
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert "trace_id" not in outside
    assert "span_id" not in outside


def test_a_line_logged_about_an_event_carries_its_id_and_type(
    logged: io.StringIO,
) -> None:
    with about_event("event-1", "io.chatfn.message.sent"):
        log.warning("inside")
    log.warning("outside")

    inside, outside = lines(logged)
    assert (inside["event_id"], inside["event_type"]) == ("event-1", "io.chatfn.message.sent")
    assert "event_id" not in outside
    assert "event_type" not in outside


async def test_events_handled_at_once_keep_their_own_ids(
    logged: io.StringIO,
) -> None:
    """Two deliveries interleaved on one event loop, as a function serves them."""

    async def handle(event_id: str) -> None:
        with about_event(event_id, "io.chatfn.message.sent"):
            await asyncio.sleep(0)  # the other one logs in between
            log.warning(event_id)

    await asyncio.gather(handle("a"), handle("b"))

    assert {line["message"]: line["event_id"] for line in lines(logged)} == {"a": "a", "b": "b"}


def test_an_exception_and_its_traceback_are_one_line(logged: io.StringIO) -> None:
    try:
        raise RuntimeError("model gave up")
    except RuntimeError:
        log.exception("generate_reply failed")

    (line,) = lines(logged)
    assert line["message"] == "generate_reply failed"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("RuntimeError: model gave up")
