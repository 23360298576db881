from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatfn.db import create_engine
from chatfn.events.catalog import MessageSendRequested, ReceivedEvent, new_event
from chatfn.events.idempotency import first_delivery
from chatfn.settings import Settings
from tests.utils.events import send_requested


@pytest.fixture
async def engine(settings: Settings, name: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {name.replace('-', '_')} (event_id text)"))
    yield engine
    await engine.dispose()


Received = ReceivedEvent[MessageSendRequested]


def received() -> Received:
    payload = send_requested()
    return ReceivedEvent(event=new_event(payload, source="/chatfn/api"), payload=payload)


async def handle(
    engine: AsyncEngine,
    table: str,
    event: ReceivedEvent[MessageSendRequested],
    consumer: str = "test",
) -> bool:
    """A consumer's transaction: the ledger row and the effect commit together."""
    async with engine.begin() as conn:
        if not await first_delivery(conn, event, consumer=consumer):
            return False
        await conn.execute(text(f"INSERT INTO {table} VALUES (:id)"), {"id": event.event["id"]})
        return True


async def crash_after_recording(engine: AsyncEngine, event: Received) -> None:
    async with engine.begin() as conn:
        assert await first_delivery(conn, event, consumer="test")
        raise RuntimeError("the handler crashed before committing")


async def effects(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def test_the_same_event_delivered_twice_changes_the_database_once(
    engine: AsyncEngine, name: str
) -> None:
    table, event = name.replace("-", "_"), received()
    assert await handle(engine, table, event) is True
    assert await handle(engine, table, event) is False
    assert await effects(engine, table) == 1


async def test_concurrent_duplicates_are_handled_exactly_once(
    engine: AsyncEngine, name: str
) -> None:
    table, event = name.replace("-", "_"), received()
    outcomes = await asyncio.gather(*(handle(engine, table, event) for _ in range(4)))
    assert sorted(outcomes) == [False, False, False, True]
    assert await effects(engine, table) == 1


async def test_a_failed_handler_leaves_the_event_to_be_processed_again(
    engine: AsyncEngine, name: str
) -> None:
    table, event = name.replace("-", "_"), received()
    with pytest.raises(RuntimeError):
        await crash_after_recording(engine, event)
    assert await handle(engine, table, event) is True
    assert await effects(engine, table) == 1


async def test_the_same_id_from_another_source_is_another_event(
    engine: AsyncEngine, name: str
) -> None:
    table, event = name.replace("-", "_"), received()
    other_source = ReceivedEvent(
        event=new_event(event.payload, source="/chatfn/other"), payload=event.payload
    )
    other_source.event["id"] = event.event["id"]
    assert await handle(engine, table, event) is True
    assert await handle(engine, table, other_source) is True


async def test_each_consumer_of_an_event_handles_it_once(engine: AsyncEngine, name: str) -> None:
    table, event = name.replace("-", "_"), received()
    assert await handle(engine, table, event, consumer="persist_history") is True
    assert await handle(engine, table, event, consumer="titles") is True
    assert await handle(engine, table, event, consumer="titles") is False
    assert await effects(engine, table) == 2
