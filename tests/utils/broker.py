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

import httpx
import uvicorn
import yaml
from aiokafka import AIOKafkaConsumer
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
