"""`chatfn status`'s live figures, asked of a real Prometheus that scrapes a real /metrics
endpoint holding known values."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from rich.console import Console, RenderableType

from chatfn.local.observe import figures_view, live_figures, live_report
from tests.utils.broker import free_port

PROMETHEUS = Path("/usr/bin/prometheus")
DEAD_LETTERS = "knative-broker-chatfn-dead-letter"

pytestmark = pytest.mark.skipif(
    not PROMETHEUS.exists(),
    reason="Debian's prometheus is not installed (`./task setup:prometheus` installs it)",
)


@contextlib.contextmanager
def serving(registry: CollectorRegistry) -> Iterator[int]:
    """`registry` on http://127.0.0.1:<port>/metrics, as a process of the stack serves it."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def prometheus(tmp_path: Path, target_port: int) -> Iterator[str]:
    """A throwaway Prometheus scraping the target every second; its URL once it is ready."""
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": "chatfn", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "prometheus.log").open("w") as log:
        server = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address={url.removeprefix('http://')}",
            ],
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/-/ready"):
            assert server.poll() is None, (tmp_path / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus was not ready in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).is_success
    except httpx.TransportError:
        return False


async def scraped(url: str, promql: str) -> None:
    """Wait until Prometheus has scraped what makes `promql` (a comparison) hold."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url) as client:
        while True:
            response = await client.get("/api/v1/query", params={"query": promql})
            if response.json()["data"]["result"]:
                return
            assert time.monotonic() < deadline, f"{promql} never held"
            await asyncio.sleep(0.2)


def rendered(report: RenderableType) -> list[list[str]]:
    """The heading, then each figure and its value, as a terminal shows them."""
    console = Console(file=StringIO(), width=120, record=True)
    console.print(report)
    heading, *rows = console.export_text().splitlines()
    return [[heading], *(re.split(r"\s{2,}", row.strip()) for row in rows)]


class Exported:
    """The series the stack's processes export, registered when `chatfn up` has run a while:
    every one at zero, so that a rate sees them grow, as it does once the first chats are over."""

    def __init__(self, registry: CollectorRegistry) -> None:
        replies = Counter("chatfn_replies", "", ["model", "state", "code"], registry=registry)
        self.done = replies.labels("scripted", "done", "")
        self.model_error = replies.labels("scripted", "error", "model_error")
        self.unavailable = replies.labels("scripted", "error", "model_unavailable")
        self.first_tokens = Histogram(
            "chatfn_reply_time_to_first_token_seconds",
            "",
            ["model"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        ).labels("scripted")
        self.streams = Gauge("chatfn_sse_open_streams", "", registry=registry)
        self.offsets = Gauge(
            "kafka_topic_partition_current_offset", "", ["topic", "partition"], registry=registry
        )

    def chats(self) -> None:
        """30 replies, 4 of them failed; dead letters on 2 of 3 partitions."""
        self.done.inc(26)
        self.model_error.inc(3)
        self.unavailable.inc(1)
        for _ in range(27):
            self.first_tokens.observe(0.2)
        for _ in range(3):
            self.first_tokens.observe(2.0)
        self.streams.set(4)
        for partition, offset in enumerate((2, 0, 1)):
            self.offsets.labels(DEAD_LETTERS, str(partition)).set(offset)
        self.offsets.labels("knative-broker-chatfn-default", "0").set(100)


async def test_no_data_yet_then_the_figures_of_the_chats(tmp_path: Path) -> None:
    # One Prometheus for both: it first scrapes a target about 5 s after it starts.
    registry = CollectorRegistry()
    with serving(registry) as port, prometheus(tmp_path, port) as url:
        await scraped(url, 'up{job="chatfn"} == 1')
        before = await live_report(url, DEAD_LETTERS)

        exported = Exported(registry)
        await scraped(url, "min(count_over_time(chatfn_replies_total[5m])) >= 2")
        idle = await live_report(url, DEAD_LETTERS)

        exported.chats()
        await scraped(url, "sum(chatfn_replies_total) == 30")
        figures = await live_figures(url, DEAD_LETTERS)

    _heading, *rows = rendered(before)
    assert [value for _figure, value in rows] == ["no data yet"] * 5
    # Series that did not move: no chats and no failures, but no time to first token either.
    _heading, *rows = rendered(idle)
    assert [value for _figure, value in rows[:3]] == ["0.0", "no data yet", "none"]
    # 30 replies in a 5 m window are 6 a minute; Prometheus extrapolates to the end of the
    # window, at most by a scrape interval more than the samples span.
    assert figures.chats_per_minute is not None
    assert 6 <= figures.chats_per_minute <= 13
    # Every series was sampled at the same instants, so their rates keep their proportions.
    assert figures.failing_per_minute == pytest.approx(
        {
            "model_error": figures.chats_per_minute * 3 / 30,
            "model_unavailable": figures.chats_per_minute * 1 / 30,
        }
    )
    # Interpolated within the bucket that holds the quantile's rank, as Prometheus does:
    # p50 is the 15th of 27 in (0.1, 0.25], p99 the 29.7th, 2.7 of 3 into (1, 2.5].
    assert figures.ttft_p50_s == pytest.approx(0.1 + 0.15 * 15 / 27)
    assert figures.ttft_p99_s == pytest.approx(1 + 1.5 * 2.7 / 3)
    assert figures.open_streams == 4
    assert figures.dead_letters == 3

    (heading,), *rows = rendered(figures_view(figures, url))
    assert heading == f"live, last 5m (Prometheus {url})"
    assert rows == [
        ["chats per minute", f"{figures.chats_per_minute:.1f}"],
        ["time to first token", "p50 183 ms, p99 2350 ms"],
        [
            "failing replies per minute",
            "model_error {:.1f}, model_unavailable {:.1f}".format(
                *figures.failing_per_minute.values()
            ),
        ],
        ["open reply streams", "4"],
        ["dead letters written", "3"],
    ]


async def test_a_prometheus_that_does_not_answer_is_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    report = await live_report(url, DEAD_LETTERS)

    console = Console(file=StringIO(), width=200, record=True)
    console.print(report)
    assert console.export_text() == (
        f"no live figures: Prometheus at {url} did not answer (ConnectError)\n"
    )
