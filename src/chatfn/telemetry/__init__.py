"""Traces, metrics and logs: what an operator sees of chatfn (OpenTelemetry).

`providers.configure` is called once per process at start. It installs the SDK only
when telemetry goes somewhere (an OTLP collector, a local traces directory, a local
metrics port); otherwise the API's no-op tracer and meter stay, and a span or a
measurement costs a function call. `tracing` continues a chat's trace across events,
`instruments` holds every metric chatfn records.
"""
