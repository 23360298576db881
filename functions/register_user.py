"""register_user: decides a sign-up.

Consumes `io.chatfn.user.register.requested` (the password's argon2 hash waits in Redis,
never in the event). Replies with `io.chatfn.user.registered`, or
`io.chatfn.user.register.rejected` when the email is taken (or the hash is no longer
waiting), carrying the command's `correlationid` back to the waiting `api`.
A redelivered command gets the same answer and changes nothing: the decision is keyed
by the command's `user_id`, so it needs no separate idempotency record.
"""

from __future__ import annotations

from cloudevents.http import CloudEvent
from functions_framework import aio

from chatfn import runtime
from chatfn.events.catalog import ReceivedEvent, UserRegisterRequested, new_event
from chatfn.events.consumer import consumes
from chatfn.events.rendezvous import EXTENSION
from chatfn.identity import accounts

SOURCE = "chatfn/register_user"


@aio.http
@consumes(UserRegisterRequested)
async def register_user(received: ReceivedEvent[UserRegisterRequested]) -> CloudEvent:
    context = runtime.current()
    async with context.sessions.begin() as db:
        result = await accounts.register(db, context.redis, context.settings, received.payload)
    await accounts.drop_password_hash(context.redis, context.settings, received.payload.user_id)
    correlation = received.event.get(EXTENSION)
    return new_event(
        result,
        source=SOURCE,
        traceparent=received.event.get("traceparent"),
        extensions={EXTENSION: correlation} if correlation else None,
    )
