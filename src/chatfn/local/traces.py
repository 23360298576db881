"""`chatfn trace`: one chat's trace, read back from the spans the local stack recorded.

Every process of the local stack appends its finished spans to `<TRACES_DIR>/<service>.jsonl`,
one `ReadableSpan.to_json(indent=None)` of the OpenTelemetry SDK per line. This module finds the
trace a reply belongs to, builds its span tree and draws it as a waterfall for a terminal.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import cycle
from pathlib import Path

from pydantic import BaseModel, ValidationError
from rich.table import Table
from rich.text import Text

REPLY_ID = "chatfn.reply_id"
FOLDER = "traces"  # in a stack's home: where each of its processes appends its spans
TRACE_ID = re.compile(r"(?:0x)?([0-9a-f]{32})", re.IGNORECASE)
SERVICE_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")


class TraceNotFound(LookupError):
    """No recorded span belongs to the reply (or trace) asked for."""


class SpanContext(BaseModel):
    trace_id: str
    span_id: str


class SpanStatus(BaseModel):
    status_code: str
    description: str | None = None


class Resource(BaseModel):
    attributes: dict[str, object]


class Span(BaseModel):
    """One line of a traces file, as the SDK's `to_json` wrote it."""

    name: str
    context: SpanContext
    parent_id: str | None
    start_time: datetime
    end_time: datetime
    status: SpanStatus
    attributes: dict[str, object]
    resource: Resource

    @property
    def trace_id(self) -> str:
        return self.context.trace_id

    @property
    def span_id(self) -> str:
        return self.context.span_id

    @property
    def service(self) -> str:
        return str(self.resource.attributes.get("service.name", "?"))

    @property
    def duration_ms(self) -> float:
        return (self.end_time - self.start_time).total_seconds() * 1000


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]
    """Every recorded span of the trace, in start order."""

    @cached_property
    def _by_parent(self) -> dict[str | None, list[Span]]:
        recorded = {span.span_id for span in self.spans}
        by_parent: dict[str | None, list[Span]] = {}
        for span in self.spans:
            # A span whose parent was not recorded (still open, not written yet, or lost)
            # stands as a root of its own: the waterfall shows the gap instead of hiding it.
            parent = span.parent_id if span.parent_id in recorded else None
            by_parent.setdefault(parent, []).append(span)
        return by_parent

    @property
    def roots(self) -> list[Span]:
        return self._by_parent.get(None, [])

    def children(self, span: Span) -> list[Span]:
        return self._by_parent.get(span.span_id, [])

    def walk(self) -> Iterator[tuple[int, Span]]:
        """Every span with its depth, parents before their children, siblings in start order."""
        stack = [(0, root) for root in reversed(self.roots)]
        while stack:
            depth, span = stack.pop()
            yield depth, span
            stack.extend((depth + 1, child) for child in reversed(self.children(span)))

    @property
    def start(self) -> datetime:
        return self.spans[0].start_time

    @property
    def duration_ms(self) -> float:
        end = max(span.end_time for span in self.spans)
        return (end - self.start).total_seconds() * 1000

    def offset_ms(self, span: Span) -> float:
        return (span.start_time - self.start).total_seconds() * 1000


def traces_dir(home_or_dir: Path) -> Path:
    """A stack's home keeps its traces in `traces/`; any other folder is taken as the traces
    folder itself."""
    nested = home_or_dir / FOLDER
    return nested if nested.is_dir() else home_or_dir


def _spans_mentioning(directory: Path, needle: str) -> Iterator[Span]:
    """The spans whose line holds `needle`: a substring test first, so that only the few lines
    that can match are parsed. A line that is not a whole span (the last one while its
    process is writing it, or what a killed process left) is skipped."""
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if needle in line:
                    with contextlib.suppress(ValidationError):
                        yield Span.model_validate_json(line)


def trace_of(home_or_dir: Path, reply_id: str) -> Trace:
    """The trace of the reply `reply_id` (the span attribute chatfn.reply_id), or of the trace
    whose id that is. A reply seen in several traces (a resend) gives the one that began first."""
    directory = traces_dir(home_or_dir)
    if not any(directory.glob("*.jsonl")):
        raise TraceNotFound(f"no spans recorded in {directory}")
    owners = [
        span
        for span in _spans_mentioning(directory, reply_id)
        if span.attributes.get(REPLY_ID) == reply_id
    ]
    if owners:
        trace_id = min(owners, key=lambda span: span.start_time).trace_id
    elif match := TRACE_ID.fullmatch(reply_id):
        trace_id = f"0x{match[1].lower()}"
    else:
        raise TraceNotFound(f"no span in {directory} has {REPLY_ID}={reply_id}")
    spans = [span for span in _spans_mentioning(directory, trace_id) if span.trace_id == trace_id]
    if not spans:
        raise TraceNotFound(f"no span in {directory} belongs to the trace {trace_id}")
    return Trace(trace_id, tuple(sorted(spans, key=lambda span: span.start_time)))


def _notes(span: Span) -> str:
    """The attributes a reader of a waterfall looks for, where the span has them."""
    attributes = span.attributes
    notes = []
    if (code := attributes.get("http.response.status_code")) is not None:
        notes.append(f"HTTP {code}")
    event_type = attributes.get("cloudevents.event_type")
    if isinstance(event_type, str) and event_type not in span.name:
        notes.append(event_type)
    ttft = attributes.get("chatfn.time_to_first_token_s")
    if isinstance(ttft, int | float):
        notes.append(f"first token {ttft * 1000:.0f} ms")
    tokens_in = attributes.get("gen_ai.usage.input_tokens")
    tokens_out = attributes.get("gen_ai.usage.output_tokens")
    if tokens_in is not None or tokens_out is not None:
        notes.append(f"tokens {tokens_in or 0} in, {tokens_out or 0} out")
    if span.status.status_code == "ERROR":
        notes.append(f"error: {span.status.description}" if span.status.description else "error")
    return ", ".join(notes)


def _bar(trace: Trace, span: Span, width: int, style: str) -> Text:
    """The span's place in the trace, scaled so that the whole trace fills `width` cells; a
    span too short for one cell still gets one."""
    scale = width / trace.duration_ms if trace.duration_ms > 0 else 0.0
    start = min(int(trace.offset_ms(span) * scale), width - 1)
    length = max(1, min(round(span.duration_ms * scale), width - start))
    return Text(" " * start + "━" * length, style=style)


def waterfall(trace: Trace, *, bar_width: int = 32) -> Table:
    """One row per span, parents before children: when it started after the trace began,
    how long it took, which service ran it, a bar, its name (indented by depth) and notes."""
    services = dict.fromkeys(span.service for span in trace.spans)
    styles = dict(zip(services, cycle(SERVICE_STYLES), strict=False))
    table = Table(
        title=f"trace {trace.trace_id}: {trace.duration_ms:.1f} ms, {len(trace.spans)} spans, "
        f"{len(services)} services",
        title_justify="left",
        box=None,
    )
    table.add_column("start ms", justify="right", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("service", no_wrap=True)
    table.add_column("", width=bar_width, no_wrap=True)
    # Last, so that where a terminal is narrow the names wrap, not the waterfall.
    table.add_column("span", overflow="fold")
    for depth, span in trace.walk():
        style = "red" if span.status.status_code == "ERROR" else styles[span.service]
        name = Text("  " * depth + span.name)
        if notes := _notes(span):
            name.append(f"  {notes}", style="dim")
        table.add_row(
            f"{trace.offset_ms(span):.1f}",
            f"{span.duration_ms:.1f}",
            Text(span.service, style=styles[span.service]),
            _bar(trace, span, bar_width, style),
            name,
        )
    if len(trace.roots) > 1:
        table.caption = (
            f"{len(trace.roots)} roots: a parent span was not recorded (still open, not "
            "written yet, or lost)"
        )
    return table
