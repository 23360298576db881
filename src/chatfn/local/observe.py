"""The live figures under `chatfn status`, asked of the local stack's Prometheus.

Each figure is one PromQL query over the series the stack's processes export (the same names
production's collector gives Prometheus), over the last five minutes where it is a rate.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

import httpx
from pydantic import BaseModel
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

WINDOW = "5m"
TIMEOUT_S = 3.0
NO_DATA = "no data yet"
TTFT_BUCKETS = f"sum by (le) (rate(chatfn_reply_time_to_first_token_seconds_bucket[{WINDOW}]))"


class Sample(BaseModel):
    metric: dict[str, str]
    value: tuple[float, float]  # (time, value); Prometheus writes the value as a string


class Vector(BaseModel):
    result: list[Sample]


class Answer(BaseModel):
    """What /api/v1/query answers to an instant query."""

    data: Vector


@dataclass(frozen=True)
class LiveFigures:
    """None where Prometheus has no data yet (nothing scraped, or too few samples for a rate)."""

    chats_per_minute: float | None
    ttft_p50_s: float | None
    ttft_p99_s: float | None
    failing_per_minute: dict[str, float]  # by error code; only codes seen failing
    open_streams: float | None
    dead_letters: float | None  # every one written, replayed or not


async def _query(client: httpx.AsyncClient, promql: str, at: float) -> list[Sample]:
    response = await client.get("/api/v1/query", params={"query": promql, "time": at})
    response.raise_for_status()
    return [
        sample
        for sample in Answer.model_validate_json(response.content).data.result
        # histogram_quantile over buckets that did not move answers NaN: no data either.
        if not math.isnan(sample.value[1])
    ]


def _single(samples: list[Sample]) -> float | None:
    return samples[0].value[1] if samples else None


async def live_figures(prometheus_url: str, dead_letter_topic: str) -> LiveFigures:
    """Ask Prometheus at `prometheus_url` for each figure; raises httpx.HTTPError when it does
    not answer."""
    queries = (
        f"sum(rate(chatfn_replies_total[{WINDOW}])) * 60",
        f"histogram_quantile(0.5, {TTFT_BUCKETS})",
        f"histogram_quantile(0.99, {TTFT_BUCKETS})",
        f'sum by (code) (rate(chatfn_replies_total{{state="error"}}[{WINDOW}])) * 60',
        "sum(chatfn_sse_open_streams)",
        f'sum(kafka_topic_partition_current_offset{{topic="{dead_letter_topic}"}})',
    )
    # One instant for every query: a rate is extrapolated to the instant it is asked at, and
    # figures asked at different instants would not add up (errors against chats, say).
    at = time.time()
    async with httpx.AsyncClient(base_url=prometheus_url, timeout=TIMEOUT_S) as client:
        chats, p50, p99, failing, streams, letters = await asyncio.gather(
            *(_query(client, promql, at) for promql in queries)
        )
    return LiveFigures(
        chats_per_minute=_single(chats),
        ttft_p50_s=_single(p50),
        ttft_p99_s=_single(p99),
        failing_per_minute={
            sample.metric.get("code", ""): sample.value[1]
            for sample in failing
            if sample.value[1] > 0
        },
        open_streams=_single(streams),
        dead_letters=_single(letters),
    )


def _failing(figures: LiveFigures) -> str:
    if figures.chats_per_minute is None:
        return NO_DATA
    if not figures.failing_per_minute:
        return "none"
    by_rate = sorted(figures.failing_per_minute.items(), key=lambda item: -item[1])
    return ", ".join(f"{code or '(no code)'} {rate:.1f}" for code, rate in by_rate)


def _ttft(figures: LiveFigures) -> str:
    if figures.ttft_p50_s is None or figures.ttft_p99_s is None:
        return NO_DATA
    return f"p50 {figures.ttft_p50_s * 1000:.0f} ms, p99 {figures.ttft_p99_s * 1000:.0f} ms"


def _count(value: float | None, spec: str = ".0f") -> str:
    return NO_DATA if value is None else format(value, spec)


def figures_view(figures: LiveFigures, prometheus_url: str) -> Group:
    # A heading of its own: a table's title would wrap at the table's (narrow) width.
    heading = Text(f"live, last {WINDOW} (Prometheus {prometheus_url})", style="italic")
    table = Table(show_header=False, box=None)
    table.add_column("figure")
    table.add_column("value")
    table.add_row("chats per minute", _count(figures.chats_per_minute, ".1f"))
    table.add_row("time to first token", _ttft(figures))
    table.add_row("failing replies per minute", _failing(figures))
    table.add_row("open reply streams", _count(figures.open_streams))
    table.add_row("dead letters written", _count(figures.dead_letters))
    return Group(heading, table)


async def live_report(prometheus_url: str, dead_letter_topic: str) -> RenderableType:
    """The figures as a table, or one line saying that Prometheus does not answer."""
    try:
        figures = await live_figures(prometheus_url, dead_letter_topic)
    except httpx.HTTPError as exc:
        return Text(
            f"no live figures: Prometheus at {prometheus_url} did not answer "
            f"({type(exc).__name__})",
            style="yellow",
        )
    return figures_view(figures, prometheus_url)
