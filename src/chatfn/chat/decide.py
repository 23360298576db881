"""Deciding what a user may send: ownership of the conversation and of the parent
message, and the daily token budget. `send_message` runs `decide` in its transaction."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.chat import history
from chatfn.events.catalog import (
    MessagePayload,
    MessageRejected,
    MessageSendRequested,
    MessageSent,
    ReplyRegenerated,
    ReplyRegenerateRequested,
)
from chatfn.models import Conversation, Message
from chatfn.settings import Settings

Decision = MessageSent | ReplyRegenerated | MessageRejected
IDS = {"user_id", "conversation_id", "message_id", "reply_id"}


async def decide(
    db: AsyncSession, settings: Settings, request: MessageSendRequested | ReplyRegenerateRequested
) -> Decision:
    """The fact `request` leads to, with its rows written. A request decided before (its
    reply row exists) gets the same fact again and writes nothing new."""
    model = request.model or settings.llm_model
    decided_before = await db.get(Message, (request.user_id, request.reply_id)) is not None
    conversation = await db.get(Conversation, (request.user_id, request.conversation_id))
    if isinstance(request, MessageSendRequested):
        if not decided_before:
            refused = await _refusal(db, settings, request, request.parent_id, "assistant")
            if refused:
                return refused
        sent = MessageSent(
            **request.model_dump(include=IDS | {"parent_id", "content"}),
            model=model,
            created_conversation=conversation is None,
        )
        await history.record_sent(db, sent)
        return sent
    if not decided_before:
        refused = await _refusal(db, settings, request, request.message_id, "user")
        if refused:
            return refused
    regenerated = ReplyRegenerated(**request.model_dump(include=IDS), model=model)
    await history.record_regenerated(db, regenerated)
    return regenerated


async def _refusal(
    db: AsyncSession,
    settings: Settings,
    request: MessagePayload,
    parent_id: UUID | None,
    parent_role: str,
) -> MessageRejected | None:
    """Why `request` may not go ahead, or None. `parent_id`, when given, must be a
    `parent_role` message of the same conversation (None starts a new root: the first
    message, or an edit of it)."""

    def rejected(reason: str, detail: str) -> MessageRejected:
        return MessageRejected.model_validate(
            request.model_dump(include=IDS) | {"reason": reason, "detail": detail}
        )

    conversation = await db.get(Conversation, (request.user_id, request.conversation_id))
    if conversation is not None and conversation.deleted_at is not None:
        return rejected("not_found", "the conversation is in the trash")
    if parent_id is not None:
        parent = await db.get(Message, (request.user_id, parent_id))
        if (
            parent is None
            or parent.conversation_id != request.conversation_id
            or parent.role != parent_role
        ):
            return rejected("not_found", "no such message in this conversation")
    budget = settings.daily_token_budget
    if budget and await history.tokens_used_today(db, request.user_id) >= budget:
        return rejected("budget_exceeded", f"the daily budget of {budget} tokens is used up")
    return None
