"""webhooks: delivers chatfn's public facts to the endpoints users registered.

Consumes the public facts (chatfn.webhooks.facts: messages sent, replies completed and
failed, conversations created, titled, trashed, restored and purged, feedback given),
`io.chatfn.webhook.test.requested` and `...resend.requested` (sent by `api` from
Settings), the `webhooks` PingSource's tick, which retries the deliveries that are
due, and `io.chatfn.user.deleted`, which drops what it kept of the account. Each event
reaches each endpoint that wants it once, signed per Standard Webhooks, over an SSRF-safe
connection (chatfn.webhooks.sender); every attempt is recorded and an
endpoint that keeps failing is disabled (chatfn.webhooks.outbox). Emits nothing. The only
writer of webhook_deliveries, webhook_attempts and webhook_health.
"""

from __future__ import annotations

from functions_framework import aio

from chatfn import runtime
from chatfn.events.catalog import (
    Payload,
    PingTick,
    ReceivedEvent,
    UserDeleted,
    WebhookResendRequested,
    WebhookTestRequested,
)
from chatfn.events.consumer import consumes
from chatfn.webhooks import facts, outbox


@aio.http
@consumes(*facts.PUBLIC_FACTS, WebhookTestRequested, WebhookResendRequested, PingTick, UserDeleted)
async def webhooks(received: ReceivedEvent[Payload]) -> None:
    context = runtime.current()
    sessions = context.sessions
    match received.payload:
        case WebhookTestRequested() as command:
            keys = await outbox.test(sessions, command)
        case WebhookResendRequested() as command:
            keys = await outbox.resend(sessions, command)
        case PingTick():
            keys = await outbox.due(sessions)
        case UserDeleted(user_id=user_id):
            await outbox.forget(sessions, user_id)
            return
        case fact:
            keys = await outbox.fan_out(sessions, received.event, fact)
    await outbox.deliver_all(sessions, context.settings, keys)
