"""A local broker of the test's own: its YAML, topics, a real subscriber and the dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import uvicorn
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from chatfn.local.broker.config import Eventing, load_eventing
from chatfn.local.broker.records import from_record
from chatfn.local.broker.service import serve
from chatfn.local.provision import create_topics
from chatfn.settings import Settings

Answer = Callable[[CloudEvent], Awaitable[Response]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def partition_of(key: str, partitions: int) -> int:
    """The partition the broker's producer writes an event with this `partitionkey` to
    (aiokafka's default partitioner: murmur2 of the key, as Kafka's Java client)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key.encode(), every, every))


def conversations_on(partitions: int, count: int, where: Callable[[int], bool]) -> list[UUID]:
    """`count` conversation ids whose events land on a partition that passes `where`, so a
    test about partitions never depends on where random keys happen to hash."""
    found: list[UUID] = []
    while len(found) < count:
        candidate = uuid4()
        if where(partition_of(str(candidate), partitions)):
            found.append(candidate)
    return found


async def consumed(
    bootstrap_servers: str, group: str, topic: str, *, key: str | None = None, within: float = 60
) -> None:
    """Wait until consumer `group` has committed every record `topic` holds now (only those
    of `key`'s partition, if given). A dispatcher commits an offset once it has settled the
    record and every one before it (delivered, filtered out or dead-lettered), so this is
    the positive sign that it is done with them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        numbers = sorted(consumer.partitions_for_topic(topic) or ())
        assert numbers, f"no topic {topic}"
        if key is not None:
            numbers = [partition_of(key, len(numbers))]
        partitions = [TopicPartition(topic, number) for number in numbers]
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + within
        while True:
            committed = {tp: await consumer.committed(tp) or 0 for tp in partitions}
            if all(committed[tp] >= ends[tp] for tp in partitions):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{group} committed {committed}, not yet {ends}")
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


async def records_in(bootstrap_servers: str, topic: str) -> int:
    """How many records `topic` holds (its end offsets: no waiting for what may come)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, n) for n in consumer.partitions_for_topic(topic) or ()]
        assert partitions, f"no topic {topic}"
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def accept(event: CloudEvent) -> Response:
    return Response(status_code=202)


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served by uvicorn on a free local port, in this event loop; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, within=10)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


class Subscriber:
    """A real HTTP subscriber: records every delivery and answers with `answer`."""

    def __init__(self, answer: Answer = accept) -> None:
        self.answer = answer
        self.received: list[CloudEvent] = []
        self.url = ""
        self.app = Starlette(routes=[Route("/", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        event = from_http(dict(request.headers), await request.body())
        self.received.append(event)
        return await self.answer(event)

    def ids(self) -> list[str]:
        return [event["id"] for event in self.received]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Subscriber]:
        async with serving(self.app) as self.url:
            yield self


def reply_with(event: CloudEvent) -> Response:
    headers, body = to_binary(event)
    return Response(content=body, headers=headers, status_code=200)


def trigger(
    name: str,
    subscriber: str,
    *,
    filters: list[dict[str, Any]] | None = None,
    delivery: Mapping[str, Any] | None = None,
    ordered: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ordered:
        metadata["annotations"] = {"kafka.eventing.knative.dev/delivery.order": "ordered"}
    spec: dict[str, Any] = {"broker": "default", "subscriber": {"uri": subscriber}}
    if filters:
        spec["filters"] = filters
    if delivery:
        spec["delivery"] = dict(delivery)
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": metadata,
        "spec": spec,
    }


def write_eventing(folder: Path, namespace: str, *triggers: dict[str, Any]) -> Path:
    """A broker named `default` in `namespace` (so topics of its own), a DLQ, and `triggers`."""
    documents: list[dict[str, Any]] = [
        {
            "kind": "ConfigMap",
            "metadata": {"name": "kafka-broker-config", "namespace": namespace},
            "data": {"default.topic.partitions": "4"},
        },
        {
            "kind": "Broker",
            "metadata": {"name": "default", "namespace": namespace},
            "spec": {
                "delivery": {
                    "retry": 2,
                    "backoffPolicy": "exponential",
                    "backoffDelay": "PT0.05S",
                    "timeout": "PT5S",
                    "deadLetterSink": {"ref": {"kind": "KafkaSink", "name": "dead-letter"}},
                }
            },
        },
        {
            "kind": "KafkaSink",
            "metadata": {"name": "dead-letter", "namespace": namespace},
            "spec": {"topic": f"{namespace}-dead-letter"},
        },
    ]
    for document in triggers:
        document["metadata"]["namespace"] = namespace
        documents.append(document)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eventing.yaml").write_text(yaml.safe_dump_all(documents))
    return folder


class LocalBroker:
    """The local broker serving a test's eventing folder, in this event loop."""

    def __init__(self, folder: Path, bootstrap_servers: str) -> None:
        self.folder = folder
        self.bootstrap_servers = bootstrap_servers
        self.eventing: Eventing = load_eventing(folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/{self.eventing.namespace}/default"

    async def create_topics(self) -> None:
        await create_topics(self.bootstrap_servers, self.eventing)

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(600):  # a new consumer group can take seconds to assign partitions
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"http://127.0.0.1:{self.port}/healthz")).is_success:
                        return
                await asyncio.sleep(0.05)
        raise AssertionError("the local broker did not start")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LocalBroker]:
        await self.create_topics()
        task = asyncio.create_task(
            serve(self.folder, bootstrap_servers=self.bootstrap_servers, port=self.port)
        )
        try:
            await self.wait_ready()
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.contextmanager
    def process(self, settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
        """The broker as its own process (`chatfn broker`), as the local stack runs it."""
        command = [sys.executable, "-m", "chatfn.local", "broker", "--port", str(self.port)]
        environment = os.environ | settings.as_environment()
        process = subprocess.Popen(
            [*command, "--eventing", str(self.folder)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield process
        finally:
            process.kill()
            process.wait()

    async def settled(self, trigger: str) -> None:
        """Wait until the dispatcher of `trigger` is done with every event written so far."""
        (group,) = (t.consumer_group for t in self.eventing.triggers if t.name == trigger)
        await consumed(self.bootstrap_servers, group, self.eventing.topic)

    async def dead_letter_count(self) -> int:
        return await records_in(self.bootstrap_servers, self.eventing.kafka_sinks["dead-letter"])

    async def dead_letters(self, expected: int, within: float = 30.0) -> list[CloudEvent]:
        """Read the dead-letter topic until `expected` events are there."""
        consumer = AIOKafkaConsumer(
            self.eventing.kafka_sinks["dead-letter"],
            bootstrap_servers=self.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        events: list[CloudEvent] = []
        try:
            deadline = time.monotonic() + within
            while len(events) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    events.extend(from_record(r.value, r.headers) for r in records)
        finally:
            await consumer.stop()
        return events
