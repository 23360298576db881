"""Inbound webhooks: an integration (a bot, a ticketing system, a chat platform) posts a
message into one of its user's conversations, or starts one, and gets the reply.

`/api/integrations` (signed in) makes an integration and shows its secret once.
`POST /api/inbound/{integration_id}` is what the integration calls: no bearer token, a
Standard Webhooks signature with that secret instead, its timestamp within
`INBOUND_TOLERANCE_S` and its `webhook-id` seen once (Redis remembers ids for twice the
tolerance, so a replay inside the window is refused and one outside it fails the
timestamp). The message then goes the UI's way, with the user's rate limit and daily
budget: the answer carries the ids and a stream ticket for `GET /api/replies/{id}/stream`,
and the completed reply is an `io.chatfn.reply.completed` fact for the user's outbound
webhooks. Integrations are state-stored by `api`, their one writer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from uuid6 import uuid7

from chatfn.api.chat_endpoints import Accepted, known_model, owned_conversation, send_command
from chatfn.api.problems import not_found
from chatfn.api.security import ApiDep, DbDep, UserDep
from chatfn.events.catalog import ConversationCreated, MessageSendRequested
from chatfn.models import InboundIntegration, Message
from chatfn.problems import Problem
from chatfn.redis_client import key
from chatfn.text import StoredText
from chatfn.webhooks import signing

router = APIRouter(prefix="/api", tags=["integrations"])
INBOUND_TOLERANCE_S = 300.0


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StoredText = Field(min_length=1, max_length=100)


class IntegrationOut(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    url: str = Field(description="where the integration posts, signed with its secret")


class IntegrationCreated(IntegrationOut):
    secret: str = Field(description="shown once")


class InboundMessage(BaseModel):
    """A message from an integration; without `conversation_id` it starts a conversation,
    without `parent_id` it answers the conversation's latest reply."""

    model_config = ConfigDict(extra="forbid")

    content: StoredText = Field(min_length=1, max_length=100_000)
    conversation_id: UUID | None = None
    parent_id: UUID | None = None
    model: StoredText | None = Field(None, max_length=200)


class InboundAccepted(Accepted):
    conversation_id: UUID


def _out(integration: InboundIntegration) -> IntegrationOut:
    return IntegrationOut(id=integration.id, name=integration.name,
                          created_at=integration.created_at,
                          url=f"/api/inbound/{integration.id}")  # fmt: skip


@router.get("/integrations")
async def list_integrations(user: UserDep, db: DbDep) -> list[IntegrationOut]:
    found = await db.scalars(
        select(InboundIntegration)
        .where(InboundIntegration.user_id == user.id)
        .order_by(InboundIntegration.id)
    )
    return [_out(integration) for integration in found.all()]


@router.post("/integrations", status_code=201)
async def create_integration(body: IntegrationIn, user: UserDep, db: DbDep) -> IntegrationCreated:
    """An integration and its signing secret, which this answer alone shows."""
    integration = InboundIntegration(
        user_id=user.id, id=uuid7(), name=body.name.strip(), secret=signing.new_secret(),
        created_at=datetime.now(UTC),
    )  # fmt: skip
    db.add(integration)
    await db.commit()
    return IntegrationCreated(**_out(integration).model_dump(), secret=integration.secret)


@router.delete("/integrations/{integration_id}", status_code=204)
async def delete_integration(integration_id: UUID, user: UserDep, db: DbDep) -> None:
    integration = await db.get(InboundIntegration, (user.id, integration_id))
    if integration is None:
        raise not_found("integration")
    await db.delete(integration)
    await db.commit()


def _refused(why: str) -> Problem:
    return Problem(401, why, title="Signature refused", headers={"WWW-Authenticate": "Webhook"})


@router.post("/inbound/{integration_id}", status_code=202)
async def inbound(
    integration_id: UUID, request: Request, api: ApiDep, db: DbDep
) -> InboundAccepted:
    """Post a message as the integration's user. Signed per Standard Webhooks: a replayed
    `webhook-id` is a 409, a bad signature or a stale timestamp a 401."""
    integration = await db.scalar(
        select(InboundIntegration).where(InboundIntegration.id == integration_id)
    )
    if integration is None:
        raise not_found("integration")
    raw = await request.body()
    try:
        signing.verify(raw, request.headers, integration.secret, tolerance=INBOUND_TOLERANCE_S)
    except signing.WebhookVerificationError as exc:
        raise _refused(str(exc)) from None
    seen = key(api.settings, "inbound", str(integration.id), request.headers["webhook-id"][:200])
    if not await api.runtime.redis.set(seen, 1, nx=True, ex=int(2 * INBOUND_TOLERANCE_S)):
        raise Problem(409, "This webhook-id was received already.", title="Replayed message")
    try:
        message = InboundMessage.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise Problem(422, f"{len(errors)} invalid field(s)", extra={"errors": errors}) from None
    user_id = integration.user_id
    await api.limits.hit(api.settings.rate_limit_user, "user", str(user_id))
    await known_model(api, message.model)
    conversation_id, parent_id = await _where(api, db, user_id, message)
    sent = MessageSendRequested(
        user_id=user_id, conversation_id=conversation_id, message_id=uuid7(), reply_id=uuid7(),
        parent_id=parent_id, content=message.content, model=message.model,
    )  # fmt: skip
    accepted = await send_command(api, sent)
    return InboundAccepted(**accepted.model_dump(), conversation_id=conversation_id)


async def _where(
    api: ApiDep, db: DbDep, user_id: UUID, message: InboundMessage
) -> tuple[UUID, UUID | None]:
    """The conversation the message goes to (a new one if none is named) and its parent."""
    if message.conversation_id is None:
        created = ConversationCreated(user_id=user_id, conversation_id=uuid7())
        await api.announce(created, user_id)
        return created.conversation_id, None
    await api.caught_up(user_id)
    await owned_conversation(db, user_id, message.conversation_id)
    if message.parent_id is not None:
        return message.conversation_id, message.parent_id
    latest = await db.scalar(
        select(Message.id)
        .where(
            Message.user_id == user_id,
            Message.conversation_id == message.conversation_id,
            Message.role == "assistant",
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return message.conversation_id, latest
