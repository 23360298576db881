"""persist_history: the PostgreSQL projection of the chat, and the chat tables' one writer.

Consumes every chat fact (chatfn.chat.projection lists them: messages and replies,
titles, conversations created, renamed, pinned, archived, trashed, restored and purged,
feedback, preferences, an account's deletion); emits nothing. Its Trigger is ordered
per partition, so a reply is never completed before it exists. Each event is applied
once (the idempotency ledger shares the transaction), so replaying the topic rebuilds
the tables (`chatfn replay`). Once a fact is committed it is struck off its author's
pending set (chatfn.events.pending), which lets their next read go ahead.
"""

from __future__ import annotations

from functions_framework import aio
from opentelemetry.trace import SpanKind

from chatfn import runtime
from chatfn.chat import projection
from chatfn.events import pending
from chatfn.events.catalog import ReceivedEvent
from chatfn.events.consumer import consumes
from chatfn.events.idempotency import first_delivery
from chatfn.telemetry.tracing import tracer

CONSUMER = "persist_history"


@aio.http
@consumes(*projection.PROJECTED)
async def persist_history(received: ReceivedEvent[projection.Projected]) -> None:
    context = runtime.current()
    with tracer.start_as_current_span("db project", kind=SpanKind.CLIENT):
        async with context.sessions.begin() as db:
            if await first_delivery(db, received, consumer=CONSUMER):
                await projection.apply(db, received)
    user_id = received.payload.user_id
    await pending.projected(context.redis, context.settings, user_id, received.event["id"])
