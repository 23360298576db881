"""`chatfn trace`: spans written by the OpenTelemetry SDK, as the stack writes them, read back
into one trace per reply and drawn as a waterfall."""

from __future__ import annotations

from contextlib import ExitStack
from io import StringIO
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from rich.console import Console
from typer.testing import CliRunner

from chatfn.local.cli import app
from chatfn.local.traces import Trace, TraceNotFound, trace_of, waterfall

REPLY = "0196f3a8-7c1e-7d2a-9b4f-3c2d1e0f9a8b"
OTHER_REPLY = "0196f3a8-7c1e-7d2a-9b4f-000000000000"
T0 = 1_750_000_000_000_000_000  # ns
MS = 1_000_000  # ns
SEND = "POST /api/conversations/{conversation_id}/messages"


class Services:
    """One TracerProvider per service, each appending to `<dir>/<service>.jsonl` exactly as
    the stack's processes do."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tracers: dict[str, trace.Tracer] = {}
        self.files = ExitStack()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.files.close()

    def tracer(self, service: str) -> trace.Tracer:
        if service not in self.tracers:
            out = self.files.enter_context((self.directory / f"{service}.jsonl").open("a"))
            exporter = ConsoleSpanExporter(
                out=out, formatter=lambda span: span.to_json(indent=None) + "\n"
            )
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            self.tracers[service] = provider.get_tracer("tests")
        return self.tracers[service]

    def span(
        self,
        service: str,
        name: str,
        start_ms: float,
        end_ms: float,
        parent: Context | None,
        attributes: Attributes = None,
        error: str | None = None,
    ) -> Context:
        """Record a finished span; the context it returns makes its children."""
        span = self.tracer(service).start_span(
            name, context=parent, attributes=attributes, start_time=T0 + int(start_ms * MS)
        )
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=T0 + int(end_ms * MS))
        return trace.set_span_in_context(span)


def record_chat(services: Services, reply_id: str, *, at_ms: float = 0) -> None:
    """One chat: api takes the send and publishes, the event crosses to generate_reply (by
    its traceparent, as on a CloudEvent), which calls the model and writes the first delta."""
    root = services.span(
        "api",
        SEND,
        at_ms,
        at_ms + 100,
        None,
        {"chatfn.reply_id": reply_id, "http.response.status_code": 202},
    )
    services.span("api", "publish io.chatfn.message.sent", at_ms + 5, at_ms + 8, root)
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=root)
    handler = services.span(
        "generate_reply",
        "generate_reply io.chatfn.message.sent",
        at_ms + 20,
        at_ms + 90,
        TraceContextTextMapPropagator().extract(carrier),
        {"chatfn.reply_id": reply_id, "cloudevents.event_type": "io.chatfn.message.sent"},
    )
    model_call = {
        "chatfn.time_to_first_token_s": 0.012,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 34,
    }
    services.span("generate_reply", "chat scripted", at_ms + 30, at_ms + 85, handler, model_call)
    services.span("generate_reply", "redis XADD first delta", at_ms + 42, at_ms + 43, handler)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A stack home with two chats recorded, and a line half-written at the end of a file
    (its process writing it as we read)."""
    traces = tmp_path / "traces"
    traces.mkdir()
    with Services(traces) as services:
        record_chat(services, OTHER_REPLY)
        record_chat(services, REPLY, at_ms=1000)
    last = (traces / "generate_reply.jsonl").read_text().splitlines()[-1]
    with (traces / "generate_reply.jsonl").open("a") as out:
        out.write(last[:150])  # past the trace id: it is a candidate, and must be skipped
    return tmp_path


def names(found: Trace) -> list[tuple[int, str, str]]:
    return [(depth, span.service, span.name) for depth, span in found.walk()]


def test_a_reply_is_one_tree_across_services_in_start_order(home: Path) -> None:
    found = trace_of(home, REPLY)

    assert names(found) == [
        (0, "api", SEND),
        (1, "api", "publish io.chatfn.message.sent"),
        (1, "generate_reply", "generate_reply io.chatfn.message.sent"),
        (2, "generate_reply", "chat scripted"),
        (2, "generate_reply", "redis XADD first delta"),
    ]
    assert [span.name for span in found.roots] == [SEND]
    assert [found.offset_ms(span) for span in found.spans] == pytest.approx([0, 5, 20, 30, 42])
    assert found.duration_ms == pytest.approx(100)


def test_the_traces_folder_itself_and_a_trace_id_find_it_too(home: Path) -> None:
    by_reply = trace_of(home, REPLY)

    by_trace_id = trace_of(home / "traces", by_reply.trace_id.removeprefix("0x").upper())

    assert by_trace_id == by_reply


def test_a_span_whose_parent_was_not_recorded_stands_as_a_root(home: Path) -> None:
    api = home / "traces" / "api.jsonl"
    api.write_text("".join(line for line in api.open() if f'"name": "{SEND}"' not in line))

    found = trace_of(home, REPLY)

    assert [span.name for span in found.roots] == [
        "publish io.chatfn.message.sent",
        "generate_reply io.chatfn.message.sent",
    ]
    assert [(depth, name) for depth, _, name in names(found)] == [
        (0, "publish io.chatfn.message.sent"),
        (0, "generate_reply io.chatfn.message.sent"),
        (1, "chat scripted"),
        (1, "redis XADD first delta"),
    ]
    assert "2 roots: a parent span was not recorded" in "".join(render(found))


def test_an_unknown_reply_says_where_it_looked(home: Path) -> None:
    with pytest.raises(TraceNotFound, match=str(home / "traces")):
        trace_of(home, "0196f3a8-0000-7000-8000-000000000000")


def test_a_home_without_traces_says_so(tmp_path: Path) -> None:
    with pytest.raises(TraceNotFound, match=f"no spans recorded in {tmp_path}$"):
        trace_of(tmp_path, REPLY)


def test_part_of_a_reply_id_finds_nothing(home: Path) -> None:
    with pytest.raises(TraceNotFound):
        trace_of(home, REPLY[:-4])


def render(found: Trace) -> list[str]:
    console = Console(file=StringIO(), width=160, record=True)
    console.print(waterfall(found, bar_width=20))
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_the_waterfall_has_a_row_per_span_with_its_notes_and_bar(home: Path) -> None:
    title, _header, *rows = render(trace_of(home, REPLY))

    assert title.startswith("trace 0x")
    assert title.endswith(": 100.0 ms, 5 spans, 2 services")
    assert [row.split()[:3] for row in rows] == [
        ["0.0", "100.0", "api"],
        ["5.0", "3.0", "api"],
        ["20.0", "70.0", "generate_reply"],
        ["30.0", "55.0", "generate_reply"],
        ["42.0", "1.0", "generate_reply"],
    ]
    assert f"{SEND}  HTTP 202" in rows[0]
    assert rows[2].count("io.chatfn.message.sent") == 1  # its type is in its name
    assert "    chat scripted  first token 12 ms, tokens 12 in, 34 out" in rows[3]
    # 20 cells for 100 ms: the root fills them all; the model call (30-85 ms) starts 6 cells
    # in and fills 11.
    bar = rows[0].index("━" * 20)
    assert rows[3][bar : bar + 20] == " " * 6 + "━" * 11 + " " * 3


def test_a_failed_span_says_why(tmp_path: Path) -> None:
    with Services(tmp_path) as services:
        handler = services.span(
            "generate_reply",
            "generate_reply",
            0,
            9,
            None,
            {"chatfn.reply_id": REPLY, "cloudevents.event_type": "io.chatfn.message.sent"},
        )
        services.span("generate_reply", "chat scripted", 1, 5, handler, error="model_error")

    rows = render(trace_of(tmp_path, REPLY))

    assert "generate_reply  io.chatfn.message.sent" in rows[2]
    assert "chat scripted  error: model_error" in rows[3]


def test_chatfn_trace_prints_the_waterfall_or_says_why_not(home: Path) -> None:
    runner = CliRunner()

    shown = runner.invoke(app, ["trace", REPLY, "--home", str(home)])
    missing = runner.invoke(app, ["trace", OTHER_REPLY[:-1], "--home", str(home)])

    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("trace 0x")
    assert missing.exit_code == 1
    assert "no trace: no span in" in missing.output
    assert "TRACES_DIR" in missing.output
