"""Tansu on the S3 engine (`CHATFN_KAFKA_STORAGE=s3`, what `chatfn up` runs) keeps the log
of record through a restart: every record from offset 0, and each consumer group's
committed offsets.

The Tansu is the test's own, started from the stack's own program for it, on the
stack's S3 (whichever engine the shared stack's Kafka uses), under a cluster id of its
own: Tansu keeps a cluster's topics and groups under `clusters/<id>/` of its bucket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from chatfn.local.provision import create_bucket
from chatfn.local.servers import KAFKA_BUCKET, Program
from chatfn.settings import Settings
from chatfn.storage import s3_client
from tests.conftest import TEST_PARTITIONS
from tests.utils.programs import child, program, until_healthy

EVENTS = 20
READ_BEFORE_RESTART = 8
READ_TIMEOUT_S = 30
# Tansu lets a new member into a group only once the session of the one that left has
# expired: with aiokafka's 10 s default, the read after the restart took 18 s; with 3 s, 5.
GROUP_OPTIONS = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 500}


@contextlib.asynccontextmanager
async def tansu(settings: Settings, command: Program, log: Path) -> AsyncIterator[str]:
    """Tansu running `command` until the block ends; yields its command line as `ps` shows it."""
    with child(command, settings, log) as process:
        await until_healthy("kafka", settings)
        yield " ".join(psutil.Process(process.pid).cmdline())


async def produce(bootstrap_servers: str, topic: str, values: list[bytes]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, TEST_PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=value)
    finally:
        await producer.stop()


async def read(consumer: AIOKafkaConsumer, count: int) -> list[bytes]:
    """The next `count` records `consumer` is given, no more."""
    values: list[bytes] = []
    async with asyncio.timeout(READ_TIMEOUT_S):
        while len(values) < count:
            batches = await consumer.getmany(timeout_ms=200, max_records=count - len(values))
            values += [record.value for records in batches.values() for record in records]
    return values


async def from_offset_zero(bootstrap_servers: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TEST_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return await read(consumer, count)
    finally:
        await consumer.stop()


async def as_group(bootstrap_servers: str, topic: str, group: str, count: int) -> list[bytes]:
    """Read `count` records as a member of `group`, then commit them."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **GROUP_OPTIONS,
    )
    await consumer.start()
    try:
        values = await read(consumer, count)
        await consumer.commit()
        return values
    finally:
        await consumer.stop()


async def remove_cluster(settings: Settings, cluster: str) -> None:
    client, prefix = s3_client(settings), f"clusters/{cluster}/"
    objects = await asyncio.to_thread(
        lambda: list(client.list_objects(KAFKA_BUCKET, prefix=prefix, recursive=True))
    )
    for stored in objects:
        await asyncio.to_thread(client.remove_object, KAFKA_BUCKET, stored.object_name)


async def test_the_log_and_a_groups_offsets_survive_a_restart_of_tansu_on_s3(
    settings: Settings, name: str, tmp_path: Path
) -> None:
    await create_bucket(settings, KAFKA_BUCKET)  # as `chatfn up` does before Tansu starts
    on_s3 = settings.model_copy(update={"kafka_storage": "s3"})
    command, bootstrap_servers = program("kafka", on_s3, tmp_path, CLUSTER_ID=name)
    kafka = on_s3.model_copy(update={"kafka_bootstrap_servers": bootstrap_servers})
    log, group = tmp_path / "kafka.log", f"{name}-group"
    sent = [f"{name}-event-{index}".encode() for index in range(EVENTS)]
    try:
        async with tansu(kafka, command, log) as command_line:
            await produce(bootstrap_servers, name, sent)
            before_restart = await as_group(bootstrap_servers, name, group, READ_BEFORE_RESTART)
        async with tansu(kafka, command, log):
            replayed = await from_offset_zero(bootstrap_servers, name, EVENTS)
            resumed = await as_group(bootstrap_servers, name, group, EVENTS - READ_BEFORE_RESTART)
    finally:
        await remove_cluster(settings, name)

    assert sorted(replayed) == sorted(sent)
    # The group goes on from its committed offsets: nothing read twice, nothing skipped.
    assert sorted(before_restart + resumed) == sorted(sent)
    secret = settings.s3_secret_key.get_secret_value()
    assert secret not in command_line
    assert secret not in log.read_text()
