from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from chatfn.settings import Settings
from tests.conftest import TEST_PARTITIONS

MESSAGES = 40


async def _consume_until(
    consumers: list[AIOKafkaConsumer], received: dict[int, list[bytes]], total: int
) -> None:
    async def run(index: int, consumer: AIOKafkaConsumer) -> None:
        while sum(len(values) for values in received.values()) < total:
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                received[index].extend(m.value for m in messages)
            if batches:
                await consumer.commit()

    await asyncio.wait_for(
        asyncio.gather(*(run(i, c) for i, c in enumerate(consumers))), timeout=60
    )


async def test_consumer_group_of_two_shares_partitions_and_gets_every_message(
    settings: Settings, topic: str, name: str
) -> None:
    consumers = [
        AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{name}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        for _ in range(2)
    ]
    for consumer in consumers:
        await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        # Both members must hold partitions before we produce, or one could take them all.
        deadline = time.monotonic() + 30
        while not all(consumer.assignment() for consumer in consumers):
            assert time.monotonic() < deadline, "the group never shared its partitions"
            for consumer in consumers:
                await consumer.getmany(timeout_ms=100)
        sent = [f"message-{i}".encode() for i in range(MESSAGES)]
        for i, value in enumerate(sent):
            await producer.send_and_wait(topic, value, key=f"conversation-{i}".encode())

        received: dict[int, list[bytes]] = {0: [], 1: []}
        await _consume_until(consumers, received, MESSAGES)
        assignments = [consumer.assignment() for consumer in consumers]
    finally:
        await producer.stop()
        for consumer in consumers:
            await consumer.stop()

    assert sorted(received[0] + received[1]) == sorted(sent)
    assert all(received.values()), "one member got nothing: the partitions were not shared"
    assert not assignments[0] & assignments[1]
    assert assignments[0] | assignments[1] == {
        TopicPartition(topic, p) for p in range(TEST_PARTITIONS)
    }
