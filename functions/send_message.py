"""send_message: decides whether a message (or a regeneration) goes ahead.

Consumes `io.chatfn.message.send.requested`, `io.chatfn.reply.regenerate.requested` and
`io.chatfn.completion.requested` (an API key's). Checks that the conversation and the
parent message are the user's, that the API key is still live and that the daily token
budgets are not spent (chatfn.chat.decide); writes no row. Replies with
`io.chatfn.message.sent`, `io.chatfn.reply.regenerated` or
`io.chatfn.completion.accepted`, or with
`io.chatfn.message.rejected`, whose reason also ends the reply's stream so the reader is
told at once.
"""

from __future__ import annotations

from cloudevents.http import CloudEvent
from functions_framework import aio
from opentelemetry.trace import SpanKind

from chatfn import runtime
from chatfn.chat import replies
from chatfn.chat.decide import decide
from chatfn.events.catalog import (
    CompletionRequested,
    MessageRejected,
    MessageSendRequested,
    ReceivedEvent,
    ReplyRegenerateRequested,
    fact_id,
    new_event,
)
from chatfn.events.consumer import consumes
from chatfn.telemetry import instruments
from chatfn.telemetry.tracing import tracer

SOURCE = "chatfn/send_message"


@aio.http
@consumes(MessageSendRequested, ReplyRegenerateRequested, CompletionRequested)
async def send_message(
    received: ReceivedEvent[MessageSendRequested | ReplyRegenerateRequested | CompletionRequested],
) -> CloudEvent:
    context = runtime.current()
    with tracer.start_as_current_span("db decide", kind=SpanKind.CLIENT):
        async with context.sessions() as db:
            fact = await decide(db, context.redis, context.settings, received.payload)
    if isinstance(fact, MessageRejected):
        if fact.reason == "budget_exceeded":
            instruments.rejections.add(1, {"reason": "budget", "scope": "daily_tokens"})
        reply = replies.Reply(context.redis, context.settings, fact.reply_id)
        await reply.finish("error", code=fact.reason, message=fact.detail)
    return new_event(
        fact,
        source=SOURCE,
        event_id=fact_id(type(fact), fact.reply_id),
        traceparent=received.event.get("traceparent"),
    )
