"""Every metric chatfn records, as OpenTelemetry instruments (no-ops until a provider is set).

Prometheus sees each name with dots as underscores and the unit as a suffix
(`chatfn_reply_time_to_first_token_seconds`), the same from a process's local `/metrics`
and from the collector's exporter; observability/ holds the dashboards and alerts that
read them.
"""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("chatfn")

# Seconds: a chat's hops take milliseconds, a model's first token up to several seconds.
_LATENCY_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

handler_duration = _meter.create_histogram(
    "chatfn.handler.duration",
    unit="s",
    description="Each HTTP request or event delivery a function handled (rate, errors, duration)",
    explicit_bucket_boundaries_advisory=_LATENCY_S,
)
time_to_first_token = _meter.create_histogram(
    "chatfn.reply.time_to_first_token",
    unit="s",
    description="From generate_reply's delivery to the reply's first words on its stream",
    explicit_bucket_boundaries_advisory=_LATENCY_S,
)
tokens_per_second = _meter.create_histogram(
    "chatfn.reply.tokens",
    unit="{token}/s",
    description="The model's output rate over one reply, first token to last",
    explicit_bucket_boundaries_advisory=(1, 5, 10, 20, 40, 80, 160, 320, 640),
)
replies = _meter.create_counter(
    "chatfn.replies",
    description="Replies ended, by state (done, stopped, error), error code and model (empty: "
    "refused before any model was asked)",
)
rejections = _meter.create_counter(
    "chatfn.rejections", description="Requests refused by a rate limit or a token budget"
)
open_streams = _meter.create_up_down_counter(
    "chatfn.sse.open_streams", description="Reply streams open in stream_reply"
)
cold_starts = _meter.create_counter(
    "chatfn.cold_starts", description="Process starts: each one is a cold start under Knative"
)


def outcome(status: int) -> str:
    """A response status as the `outcome` label: what an operator alerts on."""
    if status < 400:
        return "ok"
    if status == 503:  # the broker retries it: RetryLater, or a dependency down
        return "retry"
    return "client_error" if status < 500 else "error"
