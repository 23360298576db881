"""Reading the broker's topics for people: tail the live log, list and replay dead letters.

Dead letters stay in their topic (Kafka keeps what it was given); the consumer group
`chatfn-dead-letter-replay` remembers how far replays got, so a dead letter is pending
until it has been replayed once. Records are kept as Kafka holds them and parsed only as
far as they parse: a dead letter is often an event whose data nothing could read, and a
replay sends it back byte for byte.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from cloudevents.http import CloudEvent

from chatfn.events.emit import forward
from chatfn.local.broker.config import Eventing
from chatfn.local.broker.records import from_record

REPLAY_GROUP = "chatfn-dead-letter-replay"
READ_TIMEOUT_S = 10.0  # per partition: a topic that cannot be read to its end is reported short
ERROR_EXTENSIONS = ("knativeerrordest", "knativeerrorcode", "knativeerrordata")


@dataclass(frozen=True)
class LoggedEvent:
    """An event as a topic holds it: a record in binary mode."""

    partition: TopicPartition
    offset: int
    value: bytes
    headers: Sequence[tuple[str, bytes]]

    @classmethod
    def of(cls, record: ConsumerRecord) -> LoggedEvent:
        partition = TopicPartition(record.topic, record.partition)
        return cls(partition, record.offset, record.value or b"", list(record.headers))

    def http_headers(self) -> dict[str, str]:
        """Its attributes as `ce-` headers and its `content-type`, however they are spelt."""
        return {
            ("ce-" + name[3:] if name.startswith("ce_") else name): raw.decode(errors="replace")
            for name, raw in self.headers
            if name.startswith("ce_") or name == "content-type"
        }

    @property
    def attributes(self) -> dict[str, str]:
        """The CloudEvent attributes its headers carry (whatever else it lacks)."""
        return {
            name.removeprefix("ce-") if name.startswith("ce-") else "datacontenttype": value
            for name, value in self.http_headers().items()
        }

    def __getitem__(self, attribute: str) -> str:
        """An attribute, as a CloudEvent gives it: `logged["id"]`."""
        return self.attributes[attribute]

    @property
    def event(self) -> CloudEvent:
        """The event; raises the SDK's errors if the headers are not one."""
        return from_record(self.value, self.headers)


async def tail(
    bootstrap_servers: str, topic: str, *, from_beginning: bool = False
) -> AsyncIterator[LoggedEvent]:
    """Every event written to `topic` from now (or from its start), without joining a group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for record in consumer:
            yield LoggedEvent.of(record)
    finally:
        await consumer.stop()


async def pending_dead_letters(
    bootstrap_servers: str, eventing: Eventing, sink: str = "dead-letter"
) -> list[LoggedEvent]:
    """Dead letters not replayed yet, oldest first per partition."""
    consumer = _replay_consumer(bootstrap_servers)
    await consumer.start()
    try:
        return await _read_pending(consumer, eventing.kafka_sinks[sink])
    finally:
        await consumer.stop()


async def replay_dead_letters(
    bootstrap_servers: str, eventing: Eventing, ingress_url: str, sink: str = "dead-letter"
) -> list[LoggedEvent]:
    """Send every pending dead letter back to the broker as it was, without its error
    extensions."""
    consumer = _replay_consumer(bootstrap_servers)
    await consumer.start()
    try:
        letters = await _read_pending(consumer, eventing.kafka_sinks[sink])
        async with httpx.AsyncClient() as client:
            for letter in letters:
                headers = {
                    name: value
                    for name, value in letter.http_headers().items()
                    if name.removeprefix("ce-") not in ERROR_EXTENSIONS
                }
                await forward(headers, letter.value, ingress_url, client)
                # Committed one by one: a replay cut short resumes after the last one sent.
                await consumer.commit({letter.partition: letter.offset + 1})
        return letters
    finally:
        await consumer.stop()


def _replay_consumer(bootstrap_servers: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def _read_pending(consumer: AIOKafkaConsumer, topic: str) -> list[LoggedEvent]:
    await consumer.topics()  # a consumer without a subscription knows partitions only after this
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    letters: list[LoggedEvent] = []
    for partition in partitions:
        position = await consumer.committed(partition) or 0
        consumer.seek(partition, position)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while position < ends[partition] and time.monotonic() < deadline:
            batch = await consumer.getmany(partition, timeout_ms=200)
            for record in batch.get(partition, []):
                if record.offset < ends[partition]:
                    letters.append(LoggedEvent.of(record))
                position = record.offset + 1
    return letters
