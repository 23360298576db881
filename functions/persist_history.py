"""persist_history: the PostgreSQL projection of the chat (history, search, usage).

Consumes `io.chatfn.message.sent`, `io.chatfn.reply.regenerated`,
`io.chatfn.reply.completed`, `io.chatfn.reply.failed` and
`io.chatfn.conversation.titled`; emits nothing. Its Trigger is ordered per conversation,
so a reply is never completed before it exists. Each event is applied once (the
idempotency ledger shares the transaction), so replaying the topic rebuilds the tables.
"""

from __future__ import annotations

from functions_framework import aio
from opentelemetry.trace import SpanKind

from chatfn import runtime
from chatfn.chat import history
from chatfn.events.catalog import (
    ConversationTitled,
    MessageSent,
    ReceivedEvent,
    ReplyCompleted,
    ReplyFailed,
    ReplyRegenerated,
)
from chatfn.events.consumer import consumes
from chatfn.events.idempotency import first_delivery
from chatfn.telemetry.tracing import tracer

Projected = MessageSent | ReplyRegenerated | ReplyCompleted | ReplyFailed | ConversationTitled


@aio.http
@consumes(MessageSent, ReplyRegenerated, ReplyCompleted, ReplyFailed, ConversationTitled)
async def persist_history(received: ReceivedEvent[Projected]) -> None:
    with tracer.start_as_current_span("db project", kind=SpanKind.CLIENT):
        async with runtime.current().sessions.begin() as db:
            if not await first_delivery(db, received, consumer="persist_history"):
                return
            match received.payload:
                case MessageSent() as sent:
                    await history.record_sent(db, sent)
                case ReplyRegenerated() as regenerated:
                    await history.record_regenerated(db, regenerated)
                case ReplyCompleted() | ReplyFailed() as finished:
                    await history.record_finished(db, finished)
                case ConversationTitled() as titled:
                    await history.record_title(db, titled)
