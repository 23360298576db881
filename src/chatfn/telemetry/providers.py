"""Installing OpenTelemetry's SDK in a process, where its telemetry has somewhere to go.

Production pushes traces and metrics over OTLP/HTTP to the in-cluster collector
(`OTEL_EXPORTER_OTLP_ENDPOINT`). Push, not scrape: Knative scales a function to zero
when idle, and a pod that vanishes between two scrapes takes its last counts with it;
a pushed export is flushed at SIGTERM (the SDK's exit hook), and a Knative Service may
declare only one port anyway, the one its routes serve. Locally, each process also
appends its finished spans to `TRACES_DIR` (read by `chatfn trace`) and serves its
metrics on `METRICS_PORT` for the local Prometheus.

Nothing set: the SDK is not even imported (with the OTLP exporters and protobuf, about
90 ms of each cold start), and the API's no-op tracer and meter stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace

from chatfn.telemetry import instruments

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import SpanProcessor

    from chatfn.settings import TelemetrySettings

# Locally, spans reach the traces file within 2 s, for `chatfn trace` and the tests; the
# collector gets batches at the SDK's default pace (5 s). The exporting thread wakes that
# often even with nothing to write: at 0.5 s it cost each process 0.2 ms of CPU a second.
LOCAL_EXPORT_DELAY_MS = 2000


def configure(settings: TelemetrySettings, service: str) -> bool:
    """Install tracing and metrics for `service` if they go anywhere; True if they do."""
    if not settings.enabled:
        return False
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    name = settings.service_name or service
    resource = Resource.create({"service.name": name, "service.namespace": "chatfn"})
    sampler = ParentBased(TraceIdRatioBased(settings.trace_sample_ratio))
    tracer_provider = TracerProvider(resource=resource, sampler=sampler)
    for processor in _span_processors(settings, name):
        tracer_provider.add_span_processor(processor)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=_readers(settings)))
    instruments.cold_starts.add(1, {"function": name})
    return True


def _span_processors(settings: TelemetrySettings, name: str) -> list[SpanProcessor]:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    processors: list[SpanProcessor] = []
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        pushed = OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces")
        processors.append(BatchSpanProcessor(pushed))
    if settings.traces_dir:
        # The SDK's console exporter, writing one span's JSON per line to a file of its own.
        settings.traces_dir.mkdir(parents=True, exist_ok=True)
        out = Path(settings.traces_dir, f"{name}.jsonl").open("a", encoding="utf-8")  # noqa: SIM115  # the process's life
        written = ConsoleSpanExporter(
            service_name=name, out=out, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
        processors.append(BatchSpanProcessor(written, schedule_delay_millis=LOCAL_EXPORT_DELAY_MS))
    return processors


def _readers(settings: TelemetrySettings) -> list[MetricReader]:
    readers: list[MetricReader] = []
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        exporter = OTLPMetricExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/metrics")
        readers.append(
            PeriodicExportingMetricReader(
                exporter, export_interval_millis=settings.metric_export_interval_ms
            )
        )
    if settings.metrics_port:
        # Local only (the `local` extra).
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        _serve_metrics(settings.metrics_port)
        readers.append(PrometheusMetricReader())
    return readers


def _serve_metrics(port: int) -> None:
    """prometheus_client's /metrics app on 127.0.0.1:`port`, in a thread. Not its
    `start_http_server`: that thread wakes every 0.5 s to check for a shutdown nobody asks
    for, 0.2 ms of CPU a second in each of the stack's nine processes."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import make_wsgi_app
    from prometheus_client.exposition import ThreadingWSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """No line per scrape on stderr."""

    server = make_server("127.0.0.1", port, make_wsgi_app(), ThreadingWSGIServer, Quiet)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 60}, name="metrics", daemon=True
    ).start()
