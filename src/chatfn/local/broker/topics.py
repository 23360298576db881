"""Reading the broker's topics for people: tail the live log, list and replay dead letters.

Dead letters stay in their topic (Kafka keeps what it was given); the consumer group
`chatfn-dead-letter-replay` remembers how far replays got, so a dead letter is pending
until it has been replayed once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from cloudevents.http import CloudEvent

from chatfn.emit import publish
from chatfn.local.broker.config import Eventing
from chatfn.local.broker.records import from_record

REPLAY_GROUP = "chatfn-dead-letter-replay"
READ_TIMEOUT_S = 10.0  # per partition: a topic that cannot be read to its end is reported short
ERROR_EXTENSIONS = ("knativeerrordest", "knativeerrorcode", "knativeerrordata")


@dataclass(frozen=True)
class DeadLetter:
    partition: TopicPartition
    offset: int
    event: CloudEvent


async def tail(
    bootstrap_servers: str, topic: str, *, from_beginning: bool = False
) -> AsyncIterator[CloudEvent]:
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
            yield from_record(record.value, record.headers)
    finally:
        await consumer.stop()


async def pending_dead_letters(
    bootstrap_servers: str, eventing: Eventing, sink: str = "dead-letter"
) -> list[DeadLetter]:
    """Dead letters not replayed yet, oldest first per partition."""
    consumer = _replay_consumer(bootstrap_servers)
    await consumer.start()
    try:
        return await _read_pending(consumer, eventing.kafka_sinks[sink])
    finally:
        await consumer.stop()


async def replay_dead_letters(
    bootstrap_servers: str, eventing: Eventing, ingress_url: str, sink: str = "dead-letter"
) -> list[DeadLetter]:
    """Send every pending dead letter back to the broker, without its error extensions."""
    consumer = _replay_consumer(bootstrap_servers)
    await consumer.start()
    try:
        letters = await _read_pending(consumer, eventing.kafka_sinks[sink])
        async with httpx.AsyncClient() as client:
            for letter in letters:
                attributes = {
                    k: v
                    for k, v in letter.event.get_attributes().items()
                    if k not in ERROR_EXTENSIONS
                }
                await publish(CloudEvent(attributes, letter.event.data), ingress_url, client)
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


async def _read_pending(consumer: AIOKafkaConsumer, topic: str) -> list[DeadLetter]:
    await consumer.topics()  # a consumer without a subscription knows partitions only after this
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    letters: list[DeadLetter] = []
    for partition in partitions:
        position = await consumer.committed(partition) or 0
        consumer.seek(partition, position)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while position < ends[partition] and time.monotonic() < deadline:
            batch = await consumer.getmany(partition, timeout_ms=200)
            for record in batch.get(partition, []):
                if record.offset < ends[partition]:
                    event = from_record(record.value, record.headers)
                    letters.append(DeadLetter(partition, record.offset, event))
                position = record.offset + 1
    return letters
