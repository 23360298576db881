"""Webhook fan-out: deliveries a second to a local receiver, and the time from a fact to
the receiver, with 1, 10 and 100 endpoints on one user.

Each round registers the endpoints (all on one receiver on 127.0.0.2, one path each),
then creates `--facts` conversations, one every `--gap-ms`: each is an
`io.chatfn.conversation.created` fact every endpoint wants. Latency is from the fact's own
`timestamp` (set by `api` as it publishes) to the receiver reading the body; throughput is
the deliveries over the time from the first fact to the last arrival. The 1-endpoint round
is the baseline the others are compared with. Run:

    .venv/bin/python -m bench.webhooks [--facts 40] [--endpoints 1 10 100]

(it starts, or reuses, a stack under `--home`, `.local/bench-webhooks` by default, whose
webhooks may reach 127.0.0.2; `CHATFN_KAFKA_STORAGE=memory` keeps its Kafka in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from aiohttp import web
from tests.utils.receivers import ALLOWED, receiving

from bench.sign_up import first_sign_up, summary
from chatfn.local.stack import Stack
from chatfn.settings import Settings

DRAIN_S = 60.0  # how long a round waits for its last deliveries


async def main(facts: int, counts: list[int], gap_ms: float, home: Path) -> None:
    settings = await Stack(
        Settings(CHATFN_HOME=home, CHATFN_PORT=0, WEBHOOK_ALLOWED_NETWORKS=f"{ALLOWED}/32")
    ).up(lambda *_: None)
    gc.freeze()
    arrivals: list[tuple[float, str]] = []  # wall-clock arrival, the fact's timestamp
    expected = {"count": 0}
    all_in = asyncio.Event()

    async def record(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        arrivals.append((time.time(), json.loads(body)["timestamp"]))
        if len(arrivals) >= expected["count"]:
            all_in.set()
        return web.Response(text="ok")

    print(f"{facts} facts a round, one every {gap_ms:g} ms; 2 cores; Kafka on "
          f"{settings.kafka_storage}; gateway {settings.port}")  # fmt: skip
    baseline: tuple[float, float] | None = None
    async with receiving(ALLOWED, record) as receiver, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.port}", timeout=30,
        headers={"x-forwarded-for": f"198.20.{uuid.uuid4().int % 250}.1"},
    ) as client:  # fmt: skip
        for count in counts:
            signed = await first_sign_up(client)
            auth = {"authorization": f"Bearer {signed.json()['access_token']}"}
            for n in range(count):
                (await client.post("/api/webhooks", headers=auth, json={
                    "url": f"{receiver.url}/{n}",
                    "event_types": ["io.chatfn.conversation.created"],
                })).raise_for_status()  # fmt: skip
            arrivals.clear()
            all_in.clear()
            expected["count"] = wanted = facts * count
            started = time.time()
            for _ in range(facts):
                (await client.post("/api/conversations", headers=auth, json={})).raise_for_status()
                await asyncio.sleep(gap_ms / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), DRAIN_S)
            latencies = sorted(
                (at - datetime.fromisoformat(stamp).timestamp()) * 1000 for at, stamp in arrivals
            )
            rate = len(arrivals) / (max(at for at, _ in arrivals) - started)
            p50 = statistics.median(latencies)
            line = (f"{count:>3} endpoint(s): {len(arrivals)}/{wanted} delivered, "
                    f"{rate:7.1f}/s; fact to receiver {summary(latencies)}")  # fmt: skip
            if baseline is None:
                baseline = (rate, p50)
            else:
                line += (
                    f"  ({rate / baseline[0]:.1f}x the deliveries/s, {p50 / baseline[1]:.1f}x p50)"
                )
            print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=40)
    parser.add_argument("--endpoints", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--gap-ms", type=float, default=100.0)
    parser.add_argument("--home", type=Path, default=Path(".local/bench-webhooks"))
    arguments = parser.parse_args()
    asyncio.run(main(arguments.facts, arguments.endpoints, arguments.gap_ms, arguments.home))
