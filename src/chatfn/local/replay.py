"""`chatfn replay`: rebuild the chat tables from the event log, offset 0 to its end.

The chat tables are a projection (chatfn.chat.projection): every chat fact in the topic
is applied again, in its partition's order, by the same code `persist_history` runs, with
the same idempotency ledger, into a database that holds no chat rows yet. Facts of other
kinds pass by. An account's deletion is the one fact whose partition (the user's) differs
from what it removes (the conversations'): it removes what came before it and leaves a
tombstone that ignores what comes after, so whatever order the partitions are read in, a
deleted user ends with nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from chatfn.chat import projection
from chatfn.events.catalog import EventRejected, parse_event
from chatfn.events.idempotency import first_delivery
from chatfn.local.broker.topics import LoggedEvent
from chatfn.local.provision import alembic_config
from chatfn.models import (
    Conversation,
    DailyUsage,
    ErasedUser,
    Feedback,
    Message,
    Preferences,
    ProcessedEvent,
)

CONSUMER = "persist_history"  # the ledger's rows are the function's own, as if it had run
PROJECTED_TYPES = {fact.event_type for fact in projection.PROJECTED}
CHAT_TABLES = (Conversation, Message, Feedback, Preferences, DailyUsage, ErasedUser)
STALL_S = 30  # a partition that gives no record for this long is reported, not waited on
FETCH_MS = 1000


class NotEmpty(Exception):
    """The target database already holds chat rows: a replay would mix two histories."""


@dataclass
class Replayed:
    applied: Counter[str] = field(default_factory=Counter)  # by event type
    duplicates: int = 0  # the same event twice in the log (a producer's retry)
    unreadable: int = 0  # a chat fact that does not parse: the broker dead-lettered it too
    failed: list[str] = field(default_factory=list)  # ids of facts the database refused
    other: int = 0  # events that are not chat facts


async def replay(database_url: str, bootstrap_servers: str, topic: str) -> Replayed:
    """Migrate `database_url` to the head, then apply every chat fact of `topic` to it."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
    engine = create_async_engine(database_url, poolclass=NullPool)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, max_poll_records=500
    )
    replayed = Replayed()
    try:
        await _refuse_unless_empty(sessions)
        await consumer.start()
        for partition in await _partitions(consumer, topic):
            async for batch in _batches(consumer, partition):
                async with sessions.begin() as db:
                    for logged in batch:
                        await _apply(db, logged, replayed)
    finally:
        await consumer.stop()
        await engine.dispose()
    return replayed


async def _refuse_unless_empty(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db:
        for table in (*CHAT_TABLES, ProcessedEvent):
            if await db.scalar(select(func.count()).select_from(table)):
                raise NotEmpty(f"the table {table.__tablename__} is not empty")


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()  # a consumer without a subscription knows partitions only after this
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise LookupError(f"no topic {topic!r} at the bootstrap servers")
    return [TopicPartition(topic, number) for number in sorted(found)]


async def _batches(
    consumer: AIOKafkaConsumer, partition: TopicPartition
) -> AsyncIterator[list[LoggedEvent]]:
    """The partition's records from its first to its end as the first fetch saw it.

    The end is the high watermark a fetch answers with, not ListOffsets': Tansu 0.6
    answers that one wrongly (after 10 records, 6 in memory and 1 on S3)."""
    consumer.assign([partition])
    await consumer.seek_to_beginning(partition)
    end: int | None = None
    progress = time.monotonic()
    while end is None or await consumer.position(partition) < end:
        fetched = await consumer.getmany(partition, timeout_ms=FETCH_MS)
        end = end if end is not None else consumer.highwater(partition)
        records = [r for r in fetched.get(partition, []) if end is None or r.offset < end]
        if records:
            progress = time.monotonic()
            yield [LoggedEvent.of(record) for record in records]
        elif time.monotonic() - progress > STALL_S:
            raise TimeoutError(f"{partition} gave nothing for {STALL_S} s (end: {end})")


async def _apply(db: AsyncSession, logged: LoggedEvent, replayed: Replayed) -> None:
    event_type = logged.attributes.get("type", "")
    if event_type not in PROJECTED_TYPES:
        replayed.other += 1
        return
    try:
        received = parse_event(logged.http_headers(), logged.value, *projection.PROJECTED)
    except EventRejected:
        replayed.unreadable += 1
        return
    try:
        # A savepoint each: a fact the database refuses (as it did live, where the event
        # then went to the dead-letter sink) leaves the others of its batch applied.
        async with db.begin_nested():
            if not await first_delivery(db, received, consumer=CONSUMER):
                replayed.duplicates += 1
                return
            await projection.apply(db, received)
    except DBAPIError:
        replayed.failed.append(received.event["id"])
        return
    replayed.applied[event_type] += 1
