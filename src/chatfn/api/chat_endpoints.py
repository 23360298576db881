"""Conversations, messages and replies: reads from PostgreSQL, writes as events.

Sending mints the message and reply ids (UUIDv7), registers the reply's owner in Redis
and publishes the command; the 202 carries a stream ticket, so the browser can open the
reply's stream at once. A change to a conversation (create, rename, pin, archive, trash,
restore, purge) or feedback is a fact `api` decides and publishes; `persist_history`
writes it, and the answer is the state the fact implies. Reads wait for the user's own
facts to be projected (`ViewDep`); the two history reads also take an API key with the
`history:read` scope. Everything is scoped to the signed-in user: another
user's conversation, message or reply is a 404, never a 403.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from cloudevents.http import CloudEvent
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, and_, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from chatfn.api import share_links
from chatfn.api.attachment_endpoints import attach
from chatfn.api.problems import not_found
from chatfn.api.security import SOURCE, ApiDep, HistoryReaderDep, PrincipalDep, ViewDep
from chatfn.chat import tickets
from chatfn.events.catalog import (
    MAX_ATTACHMENTS,
    ConversationArchived,
    ConversationCreated,
    ConversationPayload,
    ConversationPinned,
    ConversationPurged,
    ConversationRenamed,
    ConversationRestored,
    ConversationTrashed,
    FeedbackGiven,
    MessagePayload,
    MessageSendRequested,
    ReplyRegenerateRequested,
    new_event,
)
from chatfn.models import Conversation, Message, MessageAttachment
from chatfn.problems import Problem
from chatfn.text import StoredText

router = APIRouter(prefix="/api", tags=["chat"])
TRASH_DAYS = 30


class ConversationOut(BaseModel):
    id: UUID
    title: str
    pinned: bool
    archived: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        return cls.model_validate(conversation, from_attributes=True)


class ConversationPage(BaseModel):
    conversations: list[ConversationOut]
    next_cursor: str | None


class AttachmentOut(BaseModel):
    id: UUID
    name: str
    content_type: str
    size_bytes: int
    kind: str = Field(description="text: read into the prompt; image: shown to the model")
    cut: bool = Field(description="only the start of its text fit the model's context")


class MessageOut(BaseModel):
    id: UUID
    parent_id: UUID | None
    role: str
    content: str
    model: str
    status: str
    created_at: datetime
    siblings: list[UUID] = Field(description="this message and its siblings, oldest first")
    attachments: list[AttachmentOut] = Field([], description="files sent with the message")


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
    next_cursor: str | None


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: StoredText = Field("", max_length=200)


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: StoredText | None = Field(None, max_length=200)
    pinned: bool | None = None
    archived: bool | None = None


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: StoredText = Field("", max_length=100_000)
    parent_id: UUID | None = None
    model: StoredText | None = Field(None, max_length=200)
    attachments: list[UUID] = Field(
        [], max_length=MAX_ATTACHMENTS, description="uploads from POST /api/attachments"
    )

    @model_validator(mode="after")
    def _says_something(self) -> NewMessage:
        if not self.content.strip() and not self.attachments:
            raise ValueError("a message needs text or a file")
        return self


class Regenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: StoredText | None = Field(None, max_length=200)


class Accepted(BaseModel):
    message_id: UUID
    reply_id: UUID
    stream_ticket: str
    cut_attachments: list[UUID] = Field(
        default_factory=list, description="files of the message only the start of which was read"
    )


class Ticket(BaseModel):
    ticket: str
    expires_in: int = tickets.TTL_S


def _cursor(updated_at: datetime, conversation_id: UUID) -> str:
    return f"{updated_at.isoformat()}_{conversation_id}"


def _after_cursor(query: Select[Conversation], cursor: str | None) -> Select[Conversation]:
    if not cursor:
        return query
    try:
        stamp, _, last_id = cursor.partition("_")
        position = (datetime.fromisoformat(stamp), UUID(last_id))
    except ValueError:
        raise Problem(400, "The cursor is not one this API gave out.") from None
    return query.where(tuple_(Conversation.updated_at, Conversation.id) < position)


async def owned_conversation(
    db: AsyncSession, user_id: UUID, conversation_id: UUID
) -> Conversation:
    conversation = await db.get(Conversation, (user_id, conversation_id))
    if conversation is None or conversation.deleted_at is not None:
        raise not_found("conversation")
    return conversation


def _time_of(event: CloudEvent) -> datetime:
    """When a fact happened, as its projection will stamp it."""
    return datetime.fromisoformat(str(event["time"]))


@router.post("/conversations", status_code=201)
async def create_conversation(
    principal: PrincipalDep, api: ApiDep, body: NewConversation | None = None
) -> ConversationOut:
    created = ConversationCreated(
        user_id=principal.user_id, conversation_id=uuid7(), title=body.title.strip() if body else ""
    )
    at = _time_of(await api.announce(created, principal.user_id))
    return ConversationOut(id=created.conversation_id, title=created.title, pinned=False,
                           archived=False, created_at=at, updated_at=at)  # fmt: skip


@router.get("/conversations")
async def list_conversations(
    principal: HistoryReaderDep,
    db: ViewDep,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[StoredText | None, Query(max_length=200)] = None,
    archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> ConversationPage:
    """Newest first; `q` searches titles and messages (case-insensitive)."""
    query = (
        select(Conversation)
        .where(
            Conversation.user_id == principal.user_id,
            Conversation.deleted_at.is_(None),
            Conversation.archived.is_(archived),
        )
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(limit + 1)
    )
    if q and q.strip():
        # LIKE's wildcards in the query are meant literally.
        escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        in_messages = exists().where(
            Message.user_id == principal.user_id,
            Message.conversation_id == Conversation.id,
            Message.content.ilike(pattern),
        )
        query = query.where(or_(Conversation.title.ilike(pattern), in_messages))
    rows = list((await db.scalars(_after_cursor(query, cursor))).all())
    page = rows[:limit]
    more = len(rows) > limit
    return ConversationPage(
        conversations=[ConversationOut.of(c) for c in page],
        next_cursor=_cursor(page[-1].updated_at, page[-1].id) if more else None,
    )


@router.get("/conversations/trash")
async def trash(principal: PrincipalDep, db: ViewDep) -> list[ConversationOut]:
    """Deleted conversations that can still be restored (for 30 days)."""
    since = datetime.now(UTC) - timedelta(days=TRASH_DAYS)
    rows = await db.scalars(
        select(Conversation)
        .where(Conversation.user_id == principal.user_id, Conversation.deleted_at >= since)
        .order_by(Conversation.deleted_at.desc())
    )
    return [ConversationOut.of(c) for c in rows.all()]


@router.get("/conversations/{conversation_id}")
async def read_conversation(
    conversation_id: UUID,
    principal: HistoryReaderDep,
    db: ViewDep,
    cursor: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> ConversationDetail:
    """The message tree, oldest first, paged by `cursor` (the last message id of a page)."""
    conversation = await owned_conversation(db, principal.user_id, conversation_id)
    in_conversation = and_(
        Message.user_id == principal.user_id, Message.conversation_id == conversation_id
    )
    family = (await db.execute(
        select(Message.id, Message.parent_id).where(in_conversation).order_by(Message.id)
    )).all()  # fmt: skip
    children: dict[UUID | None, list[UUID]] = {}
    for message_id, parent_id in family:
        children.setdefault(parent_id, []).append(message_id)
    page_query = select(Message).where(in_conversation).order_by(Message.id).limit(limit + 1)
    if cursor:
        page_query = page_query.where(Message.id > cursor)
    rows = list((await db.scalars(page_query)).all())
    page, more = rows[:limit], len(rows) > limit
    attached: dict[UUID, list[AttachmentOut]] = {}
    for file in await db.scalars(
        select(MessageAttachment)
        .where(MessageAttachment.user_id == principal.user_id,
               MessageAttachment.message_id.in_([m.id for m in page if m.role == "user"]))
        .order_by(MessageAttachment.position)
    ):  # fmt: skip
        attached.setdefault(file.message_id, []).append(
            AttachmentOut.model_validate(file, from_attributes=True)
        )
    messages = [
        MessageOut(
            id=m.id, parent_id=m.parent_id, role=m.role, content=m.content, model=m.model,
            status=m.status, created_at=m.created_at, siblings=children[m.parent_id],
            attachments=attached.get(m.id, []),
        )
        for m in page
    ]  # fmt: skip
    return ConversationDetail(
        **ConversationOut.of(conversation).model_dump(),
        messages=messages,
        next_cursor=str(page[-1].id) if more else None,
    )


@router.patch("/conversations/{conversation_id}")
async def update_conversation(
    conversation_id: UUID, update: ConversationUpdate, principal: PrincipalDep, api: ApiDep,
    db: ViewDep,
) -> ConversationOut:  # fmt: skip
    """Rename, pin or archive: each field present is a fact of its own."""
    current = ConversationOut.of(await owned_conversation(db, principal.user_id, conversation_id))
    ids = {"user_id": principal.user_id, "conversation_id": conversation_id}
    changes: dict[str, object] = {}
    facts: list[ConversationPayload] = []
    if update.title is not None:
        changes["title"] = update.title.strip()
        facts.append(ConversationRenamed(**ids, title=changes["title"]))
    if update.pinned is not None:
        changes["pinned"] = update.pinned
        facts.append(ConversationPinned(**ids, pinned=update.pinned))
    if update.archived is not None:
        changes["archived"] = update.archived
        facts.append(ConversationArchived(**ids, archived=update.archived))
    for fact in facts:
        await api.announce(fact, principal.user_id)
    return current.model_copy(update=changes)


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(
    conversation_id: UUID, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> None:
    """Move to the trash; restorable for 30 days."""
    await owned_conversation(db, principal.user_id, conversation_id)
    trashed = ConversationTrashed(user_id=principal.user_id, conversation_id=conversation_id)
    await api.announce(trashed, principal.user_id)


async def _in_trash(db: AsyncSession, user_id: UUID, conversation_id: UUID) -> Conversation:
    conversation = await db.get(Conversation, (user_id, conversation_id))
    since = datetime.now(UTC) - timedelta(days=TRASH_DAYS)
    if conversation is None or conversation.deleted_at is None or conversation.deleted_at < since:
        raise not_found("conversation in the trash")
    return conversation


@router.post("/conversations/{conversation_id}/restore")
async def restore_conversation(
    conversation_id: UUID, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> ConversationOut:
    conversation = await _in_trash(db, principal.user_id, conversation_id)
    restored = ConversationRestored(user_id=principal.user_id, conversation_id=conversation_id)
    await api.announce(restored, principal.user_id)
    return ConversationOut.of(conversation).model_copy(update={"deleted_at": None})


@router.delete("/conversations/trash/{conversation_id}", status_code=204)
async def purge_conversation(
    conversation_id: UUID, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> None:
    """Delete a conversation in the trash for good, with its messages, feedback and links."""
    await _in_trash(db, principal.user_id, conversation_id)
    await share_links.forget_conversation(api, db, principal.user_id, conversation_id)
    purged = ConversationPurged(user_id=principal.user_id, conversation_id=conversation_id)
    await api.announce(purged, principal.user_id)


async def publish_command(
    api: ApiDep, payload: MessagePayload, prompt: Sequence[Mapping[str, object]] | None = None
) -> None:
    """Register the reply's owner, leave a prompt that is not to be kept beside it (never in
    the event log), and publish the command."""
    reply = api.reply(payload.reply_id)
    await reply.open(user_id=payload.user_id, conversation_id=payload.conversation_id)
    if prompt is not None:
        await reply.keep_prompt(json.dumps(prompt))
    await api.publish(new_event(payload, source=SOURCE), "the message")


async def send_command(
    api: ApiDep, payload: MessagePayload, prompt: Sequence[Mapping[str, object]] | None = None
) -> Accepted:
    """Publish the command (`publish_command`) and hand out the reply stream's first ticket."""
    await publish_command(api, payload, prompt)
    ticket = await tickets.mint(api.runtime.redis, api.settings, user_id=payload.user_id,
                                reply_id=payload.reply_id)  # fmt: skip
    return Accepted(message_id=payload.message_id, reply_id=payload.reply_id, stream_ticket=ticket)


@router.post("/conversations/{conversation_id}/messages", status_code=202)
async def send(
    conversation_id: UUID, body: NewMessage, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> Accepted:
    """Send a message (a new sibling of an earlier one when it edits it: same `parent_id`).
    The reply streams from `GET /api/replies/{reply_id}/stream?ticket=...`."""
    await owned_conversation(db, principal.user_id, conversation_id)
    await known_model(api, body.model)
    attached = await attach(api, principal.user_id, body.attachments, body.content, body.model)
    command = MessageSendRequested(
        user_id=principal.user_id,
        conversation_id=conversation_id,
        message_id=uuid7(),
        reply_id=uuid7(),
        parent_id=body.parent_id,
        content=body.content,
        model=body.model,
        attachments=tuple(attached),
    )
    accepted = await send_command(api, command)
    accepted.cut_attachments = [file.id for file in attached if file.cut]
    return accepted


@router.post("/messages/{message_id}/regenerate", status_code=202)
async def regenerate(
    message_id: UUID,
    principal: PrincipalDep,
    api: ApiDep,
    db: ViewDep,
    body: Regenerate | None = None,
) -> Accepted:
    """A new answer to the question behind `message_id` (a reply, or the question itself),
    by the model that gave the reply unless another is asked for."""
    message = await db.get(Message, (principal.user_id, message_id))
    model = body.model if body else None
    await known_model(api, model)
    if message is not None and message.role == "assistant" and message.parent_id is not None:
        model = model or message.model
        message = await db.get(Message, (principal.user_id, message.parent_id))
    if message is None or message.role != "user":
        raise not_found("message")
    await owned_conversation(db, principal.user_id, message.conversation_id)
    command = ReplyRegenerateRequested(
        user_id=principal.user_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        reply_id=uuid7(),
        model=model or None,
    )
    return await send_command(api, command)


async def _owned_reply(api: ApiDep, user_id: UUID, reply_id: UUID) -> None:
    if await api.reply(reply_id).owner() != user_id:
        raise not_found("reply")


@router.post("/replies/{reply_id}/ticket", status_code=201)
async def stream_ticket(reply_id: UUID, principal: PrincipalDep, api: ApiDep) -> Ticket:
    """A single-use ticket (valid a minute) to open or resume the reply's stream."""
    await _owned_reply(api, principal.user_id, reply_id)
    redis, settings = api.runtime.redis, api.settings
    return Ticket(ticket=await tickets.mint(redis, settings, user_id=principal.user_id,
                                            reply_id=reply_id))  # fmt: skip


@router.post("/replies/{reply_id}/stop", status_code=202)
async def stop(reply_id: UUID, principal: PrincipalDep, api: ApiDep) -> None:
    """Stop the reply; its stream ends with `finish_reason: stopped` within one delta."""
    await _owned_reply(api, principal.user_id, reply_id)
    await api.reply(reply_id).request_stop()


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    comment: StoredText = Field("", max_length=2000)


@router.post("/messages/{message_id}/feedback", status_code=204)
async def feedback(
    message_id: UUID, body: FeedbackIn, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> None:
    """Thumbs up or down on a reply; sending again replaces the earlier rating."""
    message = await db.get(Message, (principal.user_id, message_id))
    if message is None or message.role != "assistant":
        raise not_found("reply")
    given = FeedbackGiven(
        user_id=principal.user_id, conversation_id=message.conversation_id,
        message_id=message_id, rating=body.rating, comment=body.comment.strip(),
    )  # fmt: skip
    await api.announce(given, principal.user_id)


class ModelOut(BaseModel):
    id: str
    status: Literal["ready", "preparing"] = Field(
        "ready", description="preparing: listed, but not answering yet (it is being installed)"
    )
    detail: str = Field("", description="how far its preparation is, while it is prepared")


@router.get("/models")
async def models(principal: PrincipalDep, api: ApiDep) -> list[ModelOut]:
    """The models the model server offers; the configured default comes first."""
    return [ModelOut(id=m.id, status=m.status, detail=m.detail) for m in await api.offered()]


async def known_model(api: ApiDep, model: str | None) -> None:
    """A model asked for by name must be one `/api/models` lists (None: the default)."""
    if model is not None and model not in await api.models():
        raise Problem(
            422, f"No such model: {model[:200]!r}. GET /api/models lists them.",
            title="Unknown model",
        )  # fmt: skip
