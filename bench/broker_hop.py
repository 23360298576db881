"""One hop through the local broker against plain Kafka, measured in the same run.

broker:   HTTP POST to the ingress -> Tansu -> dispatcher -> HTTP POST to a no-op subscriber
baseline: aiokafka produce (acks=all) -> Tansu -> aiokafka consumer

For 1, 16 and 64 concurrent producers it prints events/s and the p50/p99 latency of one
hop (send started -> subscriber or consumer has it), and the broker's cost over the
baseline. The broker runs as its own process (`chatfn broker`), as in `chatfn up`; the
producers and the subscriber (a plain ASGI no-op) share this process. Each run also
prints the CPU time per event of this process, the broker and Tansu: on 2 cores their sum
bounds the rate. Usage:

    .venv/bin/python -m bench.broker_hop [--events 2000] [--producers 1 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from starlette.types import Receive, Scope, Send
from tests.utils.broker import LocalBroker, eventually, serving, trigger, write_eventing

from bench.cpu import CpuMeter, describe
from chatfn.local.broker.dispatcher import FETCH_MAX_WAIT_MS
from chatfn.local.broker.service import PRODUCER_OPTIONS
from chatfn.local.stack import Stack
from chatfn.settings import Settings

CONCURRENCY = (1, 16, 64)


def event(index: int) -> CloudEvent:
    attributes = {
        "type": "io.chatfn.bench.happened",
        "source": "/bench",
        "partitionkey": f"conversation-{index % 97}",
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes, {"index": index})


class Clock:
    """Send and arrival times of each event id, on this process's monotonic clock."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}

    def report(self, label: str, concurrency: int, elapsed: float) -> tuple[float, float]:
        hops = sorted((self.arrived[i] - self.sent[i]) * 1000 for i in self.arrived)
        p50 = statistics.median(hops)
        p99 = hops[min(len(hops) - 1, int(len(hops) * 0.99))]
        rate = len(hops) / elapsed
        print(
            f"{label:<9} {concurrency:>3} producers  {rate:8.0f} events/s  "
            f"p50 {p50:6.2f} ms  p99 {p99:7.2f} ms"
        )
        return p50, rate


async def drive(
    total: int, concurrency: int, send: Callable[[CloudEvent], Awaitable[None]], clock: Clock
) -> None:
    async def producer(worker: int) -> None:
        for index in range(worker, total, concurrency):
            outgoing = event(index)
            clock.sent[outgoing["id"]] = time.perf_counter()
            await send(outgoing)

    await asyncio.gather(*(producer(w) for w in range(concurrency)))


async def through_broker(
    settings: Settings, total: int, concurrency: int, kafka_pid: int
) -> tuple[float, float]:
    clock = Clock()

    async def no_op_function(scope: Scope, receive: Receive, send: Send) -> None:
        """The subscriber: notes the arrival and answers 202. Plain ASGI, without the
        SDK's parsing, so that the harness leaves the 2 cores to what it measures."""
        clock.arrived[dict(scope["headers"])[b"ce-id"].decode()] = time.perf_counter()
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with tempfile.TemporaryDirectory() as folder:
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        async with serving(no_op_function) as subscriber_url:
            write_eventing(Path(folder), namespace, trigger("noop", subscriber_url))
            broker = LocalBroker(Path(folder), settings.kafka_bootstrap_servers)
            await broker.create_topics()
            with broker.process(settings) as process:
                await broker.wait_ready()
                cpu = CpuMeter({"bench": os.getpid(), "broker": process.pid, "tansu": kafka_pid})
                # aiohttp, as the dispatcher uses: httpx's pool would be the bottleneck here.
                async with aiohttp.ClientSession() as session:

                    async def send(outgoing: CloudEvent) -> None:
                        headers, body = to_binary(outgoing)
                        async with session.post(broker.url, data=body, headers=headers) as answer:
                            answer.raise_for_status()

                    started = time.perf_counter()
                    await drive(total, concurrency, send, clock)
                    await eventually(lambda: len(clock.arrived) >= total, within=120)
                    elapsed = time.perf_counter() - started
                    print(" " * 10 + describe(cpu.per_unit_ms(total), "event"))
    return clock.report("broker", concurrency, elapsed)


async def through_kafka(
    settings: Settings, total: int, concurrency: int, kafka_pid: int
) -> tuple[float, float]:
    clock = Clock()
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    servers = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 4, replication_factor=1)])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id=topic,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,  # tuned as the dispatcher is: a fair baseline
    )
    producer = AIOKafkaProducer(bootstrap_servers=servers, **PRODUCER_OPTIONS)  # as the ingress
    await consumer.start()
    await producer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    cpu = CpuMeter({"bench": os.getpid(), "tansu": kafka_pid})

    async def consume() -> None:
        while len(clock.arrived) < total:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for record in records:
                    clock.arrived[record.value.decode()] = time.perf_counter()

    async def send(outgoing: CloudEvent) -> None:
        key = outgoing["partitionkey"].encode()
        await producer.send_and_wait(topic, outgoing["id"].encode(), key=key)

    try:
        reader = asyncio.create_task(consume())
        started = time.perf_counter()
        await drive(total, concurrency, send, clock)
        await asyncio.wait_for(reader, timeout=120)
        print(" " * 10 + describe(cpu.per_unit_ms(total), "event"))
        return clock.report("baseline", concurrency, time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def main(total: int, producers: Sequence[int]) -> None:
    stack = Stack(Settings(CHATFN_HOME=Path(".local/bench"), CHATFN_PORT=0))
    settings = await stack.up(lambda *_: None)
    gc.freeze()  # this process's own full collections would stall its clients (chatfn.runtime)
    kafka_pid = stack.supervisor.processes()["kafka"].pid
    print(f"{total} events per run; Kafka: Tansu at {settings.kafka_bootstrap_servers}")
    for concurrency in producers:
        base_p50, base_rate = await through_kafka(settings, total, concurrency, kafka_pid)
        p50, rate = await through_broker(settings, total, concurrency, kafka_pid)
        print(
            f"          broker adds {p50 - base_p50:+.2f} ms p50; "
            f"throughput {rate / base_rate:.2f}x the baseline\n"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--producers", type=int, nargs="*", default=CONCURRENCY)
    arguments = parser.parse_args()
    uvloop.run(main(arguments.events, arguments.producers))
