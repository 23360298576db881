"""register_user: decides a sign-up.

Consumes `io.chatfn.user.register.requested` (the password already an argon2 hash).
Replies with `io.chatfn.user.registered`, or `io.chatfn.user.register.rejected` when
the email is taken, carrying the command's `correlationid` back to the waiting `api`.
A redelivered command gets the same answer and changes nothing: the decision is keyed
by the command's `user_id`, so it needs no separate idempotency record.
"""

from __future__ import annotations

from cloudevents.http import CloudEvent
from functions_framework import aio

from chatfn import accounts, runtime
from chatfn.consumer import consumes
from chatfn.events import ReceivedEvent, UserRegisterRequested, new_event
from chatfn.rendezvous import EXTENSION

SOURCE = "chatfn/register_user"


@aio.http
@consumes(UserRegisterRequested)
async def register_user(received: ReceivedEvent[UserRegisterRequested]) -> CloudEvent:
    context = runtime.current()
    async with context.sessions.begin() as db:
        result = await accounts.register(db, context.settings, received.payload)
    correlation = received.event.get(EXTENSION)
    return new_event(
        result,
        source=SOURCE,
        traceparent=received.event.get("traceparent"),
        extensions={EXTENSION: correlation} if correlation else None,
    )
