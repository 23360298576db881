"""Tansu's two storage engines, memory and S3 (the local SeaweedFS), measured in the same run.

For each engine, N chat-sized events (600 bytes, keyed by conversation, acks=all, with
the ingress's producer options) are produced one at a time (each awaited before the next,
as one request to the ingress does), then in batches (sent together, awaited together),
then fetched back from offset 0. It prints each phase's per-event latency p50/p99 (send
to acknowledgement) and events/s, the CPU Tansu and SeaweedFS spent per event, and the
S3 engine's figures as ratios of memory's. Tansu and SeaweedFS are the local stack's own
programs (chatfn.local.servers), run as children of this process. Usage:

    .venv/bin/python -m bench.kafka_storage [--events 1000] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tests.utils.programs import child, program, until_healthy

from bench.cpu import CpuMeter, describe
from chatfn.local.broker.service import PRODUCER_OPTIONS
from chatfn.local.provision import create_bucket
from chatfn.local.servers import KAFKA_BUCKET
from chatfn.settings import Settings

EVENT_BYTES = 600  # a chat event as the broker's topic holds it (CloudEvent, JSON)
PARTITIONS = 8  # eventing/'s default.topic.partitions
ENGINES = ("memory", "s3")


def event(index: int) -> tuple[bytes, bytes]:
    """A key (the conversation) and a value of EVENT_BYTES."""
    conversation = f"conversation-{index % 97}"
    attributes = {"type": "io.chatfn.message.sent", "id": str(uuid.uuid4()), "text": ""}
    attributes["partitionkey"] = conversation
    padding = EVENT_BYTES - len(json.dumps(attributes).encode())
    attributes["text"] = "x" * padding
    return conversation.encode(), json.dumps(attributes).encode()


@dataclass(frozen=True)
class Phase:
    name: str
    latencies_ms: list[float]
    rate: float

    def line(self) -> str:
        if not self.latencies_ms:
            return f"  {self.name:<16} {'':>33} {self.rate:8.0f} events/s"
        ranked = sorted(self.latencies_ms)
        p50, p99 = statistics.median(ranked), ranked[min(len(ranked) - 1, len(ranked) * 99 // 100)]
        return f"  {self.name:<16} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {self.rate:8.0f} events/s"


async def one_at_a_time(producer: AIOKafkaProducer, topic: str, total: int) -> Phase:
    latencies = []
    started = time.perf_counter()
    for index in range(total):
        key, value = event(index)
        sent = time.perf_counter()
        await producer.send_and_wait(topic, value, key=key)
        latencies.append((time.perf_counter() - sent) * 1000)
    return Phase("one at a time", latencies, total / (time.perf_counter() - started))


async def in_batches(producer: AIOKafkaProducer, topic: str, total: int, batch: int) -> Phase:
    latencies: list[float] = []
    started = time.perf_counter()
    for first in range(0, total, batch):
        sent = time.perf_counter()
        acknowledged = [
            await producer.send(topic, value, key=key)
            for key, value in map(event, range(first, min(first + batch, total)))
        ]
        for future in acknowledged:
            future.add_done_callback(
                lambda _, sent=sent: latencies.append((time.perf_counter() - sent) * 1000)
            )
        await asyncio.gather(*acknowledged)
    return Phase(f"batches of {batch}", latencies, total / (time.perf_counter() - started))


async def fetch_all(bootstrap_servers: str, topic: str, total: int) -> Phase:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started, fetched = time.perf_counter(), 0
        while fetched < total:
            fetched += sum(map(len, (await consumer.getmany(timeout_ms=1000)).values()))
        return Phase("fetch from 0", [], total / (time.perf_counter() - started))
    finally:
        await consumer.stop()


async def measure(bootstrap_servers: str, total: int, batch: int, cpu: CpuMeter) -> list[Phase]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **PRODUCER_OPTIONS)
    await producer.start()
    try:
        phases = [
            await one_at_a_time(producer, topic, total),
            await in_batches(producer, topic, total, batch),
        ]
    finally:
        await producer.stop()
    phases.append(await fetch_all(bootstrap_servers, topic, 2 * total))
    for phase in phases:
        print(phase.line())
    print("  " + describe(cpu.per_unit_ms(2 * total), "event written and read back"))
    return phases


def compare(memory: list[Phase], s3: list[Phase]) -> None:
    print("s3/memory:")
    for base, other in zip(memory, s3, strict=True):
        if base.latencies_ms:
            p50 = statistics.median(other.latencies_ms) / statistics.median(base.latencies_ms)
            print(f"  {base.name:<16} p50 {p50:6.1f}x  throughput {other.rate / base.rate:6.2f}x")
        else:
            print(f"  {base.name:<16} {'':>11}  throughput {other.rate / base.rate:6.2f}x")


async def main(total: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        settings = Settings(CHATFN_HOME=home)
        s3, s3_url = program("s3", settings, home / "s3")
        settings = settings.model_copy(update={"s3_endpoint": s3_url})
        with child(s3, settings, home / "s3.log") as seaweedfs:
            await until_healthy("s3", settings)
            await create_bucket(settings, KAFKA_BUCKET)
            print(f"{total} events of {EVENT_BYTES} bytes per phase, {PARTITIONS} partitions")
            results = {}
            for engine in ENGINES:
                engine_settings = settings.model_copy(update={"kafka_storage": engine})
                kafka, bootstrap_servers = program("kafka", engine_settings, home / engine)
                engine_settings = engine_settings.model_copy(
                    update={"kafka_bootstrap_servers": bootstrap_servers}
                )
                with child(kafka, engine_settings, home / f"{engine}.log") as tansu:
                    await until_healthy("kafka", engine_settings)
                    print(engine)
                    cpu = CpuMeter({"tansu": tansu.pid, "s3": seaweedfs.pid, "bench": os.getpid()})
                    results[engine] = await measure(bootstrap_servers, total, batch, cpu)
            compare(results["memory"], results["s3"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    arguments = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "Unable connect" while Tansu starts
    uvloop.run(main(arguments.events, arguments.batch))
