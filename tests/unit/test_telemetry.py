"""chatfn.telemetry set up in a process of its own (its providers are global, once per process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def run(code: str, **environment: str) -> str:
    """Run `code` in a fresh interpreter with only these telemetry settings; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_with_nowhere_to_send_it_the_sdk_is_not_even_imported() -> None:
    out = run("""
        import sys
        from chatfn.settings import TelemetrySettings
        from chatfn.telemetry import providers, instruments
        print(providers.configure(TelemetrySettings(), "api"))
        instruments.replies.add(1, {"state": "done", "code": ""})
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry.sdk")))
    """)
    assert out.split("\n")[:2] == ["False", "[]"]


def test_a_delivery_continues_its_event_s_trace_and_is_written_as_a_json_line(
    tmp_path: Path,
) -> None:
    """The middleware with the stack's local exporter: an event delivered without the
    broker's header continues the event's own trace (ce-traceparent), its span is named
    after the event type, and the traces file holds it as one JSON object per line."""
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    run(
        f"""
        from opentelemetry import trace
        from starlette.responses import Response
        from starlette.testclient import TestClient
        from chatfn.settings import TelemetrySettings
        from chatfn.telemetry import providers
        from chatfn.telemetry.http import Telemetry

        assert providers.configure(TelemetrySettings(), "send_message")
        async def handle(scope, receive, send):
            await Response(status_code=202)(scope, receive, send)
        app = Telemetry(handle, "send_message")
        client = TestClient(app)  # no lifespan: the function has none
        headers = {{"ce-type": "io.chatfn.message.send.requested",
                    "ce-traceparent": "{parent}"}}
        assert client.post("/", headers=headers).status_code == 202
        assert client.get("/healthz").status_code == 202
        trace.get_tracer_provider().shutdown()
        """,
        TRACES_DIR=str(tmp_path),
        OTEL_SERVICE_NAME="send_message",
    )
    [line] = (tmp_path / "send_message.jsonl").read_text().splitlines()  # no span for probes
    span = json.loads(line)
    assert span["name"] == "send_message io.chatfn.message.send.requested"
    assert span["context"]["trace_id"] == "0x0af7651916cd43dd8448eb211c80319c"
    assert span["parent_id"] == "0xb7ad6b7169203331"
    assert span["attributes"]["http.response.status_code"] == 202
    assert span["resource"]["attributes"]["service.name"] == "send_message"
