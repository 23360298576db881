"""`/events/*`: what the broker delivers to `api` (never routed from the public `/api`).

- `/events/register-result`: a Trigger sends `io.chatfn.user.registered` and
  `...register.rejected` here; each is handed to whichever `api` instance waits for its
  `correlationid` (see rendezvous). Read like every function's events (`consumes`): a
  bad one is a final 4xx, so the broker dead-letters it instead of retrying it.
- `/events/trash-sweep`: the daily PingSource tick; conversations in the trash for 30
  days are deleted for good, each as an `io.chatfn.conversation.purged` fact (one id per
  conversation, so a second tick before the first is projected changes nothing).
- `/events/dead-letter`: the dead-letter sink of the Triggers on a reply's way
  (`send_message`, `generate_reply`). The reply the event was for ends now, with an
  `undeliverable` error, instead of leaving its reader waiting forever; then the event
  goes on, byte for byte, to the dead-letter KafkaSink (`DEAD_LETTER_SINK`), where
  `chatfn events dlq` finds it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from cloudevents.exceptions import GenericException
from cloudevents.http import from_http
from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from chatfn.api import share_links
from chatfn.api.chat_endpoints import TRASH_DAYS
from chatfn.api.security import SOURCE, Api, ApiDep
from chatfn.events import rendezvous
from chatfn.events.catalog import (
    ConversationPurged,
    MalformedEvent,
    PingTick,
    ReceivedEvent,
    UserRegistered,
    UserRegisterRejected,
    fact_id,
    new_event,
)
from chatfn.events.consumer import consumes
from chatfn.events.emit import DEAD_LETTER_TOKEN, SinkRefused, bearer, forward
from chatfn.models import Conversation
from chatfn.problems import unavailable

router = APIRouter(prefix="/events", include_in_schema=False)
UNDELIVERABLE = "We could not process this message. Try sending it again."
SWEEP_BATCH = 5000  # conversations purged a tick; more wait for the next day


@router.post("/register-result")
async def register_result(request: Request, api: ApiDep) -> Response:
    @consumes(UserRegistered, UserRegisterRejected)
    async def register_result(
        received: ReceivedEvent[UserRegistered | UserRegisterRejected],
    ) -> None:
        correlation = received.event.get(rendezvous.EXTENSION)
        if not isinstance(correlation, str) or not rendezvous.is_signed(api.settings, correlation):
            raise MalformedEvent("correlationid missing or not signed by chatfn")
        result = {"type": received.event["type"], **received.payload.model_dump(mode="json")}
        await rendezvous.deliver_result(api.runtime.redis, api.settings, correlation, result)

    return await register_result(request)


@router.post("/trash-sweep")
async def trash_sweep(request: Request, api: ApiDep) -> Response:
    @consumes(PingTick)
    async def trash_sweep(received: ReceivedEvent[PingTick]) -> None:
        async with api.runtime.sessions() as db:
            expired = (await db.execute(
                select(Conversation.user_id, Conversation.id)
                .where(Conversation.deleted_at < datetime.now(UTC) - timedelta(days=TRASH_DAYS))
                .limit(SWEEP_BATCH)
            )).all()  # fmt: skip
            for user_id, conversation_id in expired:
                await share_links.forget_conversation(api, db, user_id, conversation_id)
        for user_id, conversation_id in expired:
            purged = ConversationPurged(user_id=user_id, conversation_id=conversation_id)
            event_id = fact_id(ConversationPurged, conversation_id)
            await api.publish(new_event(purged, source=SOURCE, event_id=event_id), "the purge")

    return await trash_sweep(request)


@router.post("/dead-letter", status_code=202)
async def dead_letter(request: Request, api: ApiDep) -> None:
    body = await request.body()
    # The event's own headers only (binary mode: ce-*), not this hop's (Host...).
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.startswith("ce-") or name == "content-type"
    }
    await _end_its_reply(api, _data_of(headers, body))
    try:
        await forward(
            {**headers, **bearer(DEAD_LETTER_TOKEN)},
            body,
            api.settings.dead_letter_sink,
            api.runtime.http,
        )
    except (SinkRefused, httpx.HTTPError) as exc:
        raise unavailable("the dead-letter sink did not take the event") from exc


def _data_of(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The event's data if it is a JSON object. Read leniently: an event is often
    dead-lettered precisely because it did not parse as its type."""
    try:
        data = from_http(headers, body).data
    except (GenericException, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


async def _end_its_reply(api: Api, data: dict[str, Any]) -> None:
    try:
        reply_id, user_id = UUID(str(data["reply_id"])), UUID(str(data["user_id"]))
    except (KeyError, ValueError):
        return  # not on a reply's way
    reply = api.reply(reply_id)
    if await reply.owner() == user_id:
        await reply.finish("error", code="undeliverable", message=UNDELIVERABLE)
