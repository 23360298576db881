"""Idempotent consumers: a redelivered CloudEvent changes nothing.

A handler calls `first_delivery` inside the transaction that writes its effects. The
row it inserts commits or rolls back with them, so an event is either fully handled
once or not at all; a concurrent duplicate waits on the primary key and then sees it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chatfn.events.catalog import ReceivedEvent
from chatfn.models import ProcessedEvent


async def first_delivery(
    db: AsyncSession | AsyncConnection, received: ReceivedEvent[Any], consumer: str
) -> bool:
    """Record the event as processed by `consumer`; False when an earlier delivery did."""
    source, event_id = received.key
    statement = (
        insert(ProcessedEvent)
        .values(consumer=consumer, source=source, id=event_id, type=received.event["type"])
        .on_conflict_do_nothing(index_elements=["consumer", "source", "id"])
        .returning(ProcessedEvent.id)
    )
    return (await db.execute(statement)).first() is not None
