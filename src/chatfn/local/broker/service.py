"""The local broker process: one ingress, one dispatcher per Trigger and the PingSources, in
one event loop."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp
import httpx
import uvicorn
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata

from chatfn.local.broker.config import Destination, Eventing, Ref, load_eventing
from chatfn.local.broker.dispatcher import UNORDERED_CONCURRENCY, Dispatcher
from chatfn.local.broker.figures import KafkaFigures
from chatfn.local.broker.ingress import Ingress
from chatfn.local.broker.link import Link
from chatfn.local.broker.pings import Pings
from chatfn.local.broker.records import Record, http_headers
from chatfn.serve import CLIENT_KEEP_ALIVE_S, SleepingServer
from chatfn.settings import TelemetrySettings
from chatfn.telemetry import providers

# Tansu does not implement InitProducerId, so the producer cannot be idempotent;
# acks=all still means a 202 is only given for a durable write. No linger: aiokafka has
# one request in flight per broker, so under load records batch behind it anyway, and a
# linger would only hold back each lone write. A write is given up after 10 s, when its
# sender has (chatfn.events.emit.TIMEOUT_S), so a producer closed while Kafka is away stops soon.
PRODUCER_OPTIONS = {"acks": "all", "linger_ms": 0, "request_timeout_ms": 10_000}


def resolver(
    eventing: Eventing, base_url: str, functions: Mapping[str, str]
) -> Callable[[Destination], str]:
    """Turn a Knative destination into a local URL, as Knative's addressable resolver does."""

    def address(ref: Ref) -> str:
        namespace = ref.namespace or eventing.namespace
        if ref.kind == "KafkaSink":
            return f"{base_url}/sinks/{namespace}/{ref.name}"
        if ref.kind == "Broker":
            return f"{base_url}/{namespace}/{ref.name}"
        if ref.kind == "Service" and ref.name in functions:
            return functions[ref.name]
        raise ValueError(f"{ref.kind} {ref.name!r} does not run in the local stack")

    def resolve(destination: Destination) -> str:
        # Knative: a `uri` alone is absolute; beside a `ref` it is a path on the ref's address.
        if destination.ref is None:
            if not destination.uri:
                raise ValueError("a destination needs a ref or a uri")
            return destination.uri
        return address(destination.ref) + (destination.uri or "")

    return resolve


def tell_subscribed(dispatchers: list[Dispatcher], record: Record, written: RecordMetadata) -> None:
    """Tell the dispatchers that will deliver this record where it was written. The others
    read past it on their next wake or check: waking them all would cost fetches."""
    attributes = http_headers(record[2])[1]
    partition = TopicPartition(written.topic, written.partition)
    for dispatcher in dispatchers:
        if dispatcher.topic == written.topic and dispatcher.trigger.filter(attributes):
            dispatcher.expect(partition, written.offset)


async def serve(
    eventing_dir: Path,
    *,
    bootstrap_servers: str,
    port: int,
    functions: Mapping[str, str] | None = None,
    ping_every_s: float = 0.0,
) -> None:
    """Run the ingress on 127.0.0.1:`port`, every Trigger's dispatcher and every PingSource
    (each `ping_every_s` if above 0, else on its schedule) until cancelled, in Kafka
    sessions that start again whenever Kafka comes back (see `link`)."""
    providers.configure(TelemetrySettings(), "broker")
    eventing = load_eventing(eventing_dir)
    base_url = f"http://127.0.0.1:{port}"
    resolve = resolver(eventing, base_url, functions or {})
    link = Link(bootstrap_servers, eventing, PRODUCER_OPTIONS)
    # Deliveries, the hot path, go through aiohttp: httpx's connection pool costs
    # milliseconds per request once dozens of connections are open. Replies go straight
    # to the ingress's producer; dead letters through `chatfn.events.emit.publish`, like every
    # function's events.
    connector = aiohttp.TCPConnector(
        limit=UNORDERED_CONCURRENCY * 2, keepalive_timeout=CLIENT_KEEP_ALIVE_S
    )
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        httpx.AsyncClient() as client,
    ):
        dispatchers: list[Dispatcher] = []
        figures = KafkaFigures(dispatchers)

        def written(record: Record, metadata: RecordMetadata) -> None:
            tell_subscribed(dispatchers, record, metadata)
            figures.written(metadata)

        ingress = Ingress(eventing, link, status=lambda: link.status(dispatchers), written=written)
        pings = Pings(eventing, ingress.write, ping_every_s)
        dispatchers += [
            Dispatcher(
                trigger,
                topic=eventing.topic,
                bootstrap_servers=bootstrap_servers,
                resolve=resolve,
                reingest=ingress.reingest,
                session=session,
                client=client,
            )
            for trigger in eventing.triggers
        ]
        server = SleepingServer(  # awake once a second while idle, not ten times
            uvicorn.Config(
                ingress.app,
                host="127.0.0.1",
                port=port,
                access_log=False,
                log_config=None,  # its lines go through the broker's JSON handler
            )
        )
        gc.freeze()  # set up: full collections skip all of it (see chatfn.runtime)
        await asyncio.gather(server.serve(), link.run(dispatchers), pings.run())
