"""Deciding what a user may send: ownership of the conversation and of the parent
message, the API key still live, and the daily token budgets (the user's, and the key's).
`send_message` runs `decide`; it writes no row (the chat tables are `persist_history`'s):
its fact is the whole outcome."""

from __future__ import annotations

import json
from uuid import UUID

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.chat import history
from chatfn.chat.replies import Reply
from chatfn.events.catalog import (
    CompletionAccepted,
    CompletionRequested,
    MessagePayload,
    MessageRejected,
    MessageSendRequested,
    MessageSent,
    ReplyRegenerated,
    ReplyRegenerateRequested,
)
from chatfn.models import ApiKey, Conversation, Message
from chatfn.settings import Settings

Request = MessageSendRequested | ReplyRegenerateRequested | CompletionRequested
Decision = MessageSent | ReplyRegenerated | CompletionAccepted | MessageRejected
IDS = {"user_id", "conversation_id", "message_id", "reply_id"}
DECISIONS: dict[str, type[Decision]] = {
    fact.event_type: fact
    for fact in (MessageSent, ReplyRegenerated, CompletionAccepted, MessageRejected)
}


async def decide(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    request: Request,
) -> Decision:
    """The fact `request` leads to. A request decided before gets the same fact again
    (kept beside its reply), though the budget or the history may have changed since."""
    fact = await _decision(db, redis, settings, request)
    recorded = json.loads(
        await Reply(redis, settings, request.reply_id).decided(
            json.dumps({"type": fact.event_type, "data": fact.model_dump(mode="json")})
        )
    )
    return DECISIONS[recorded["type"]].model_validate(recorded["data"])


async def _decision(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    request: Request,
) -> Decision:
    if isinstance(request, CompletionRequested):
        return await _completion(db, settings, request)
    model = request.model or settings.llm_model
    conversation = await db.get(Conversation, (request.user_id, request.conversation_id))
    if conversation is not None and conversation.deleted_at is not None:
        return _rejected(request, "not_found", "the conversation is in the trash")
    if isinstance(request, MessageSendRequested):
        if request.parent_id is not None and not await _is_reply_in_conversation(
            db, redis, settings, request, request.parent_id
        ):
            return _rejected(request, "not_found", "no such message in this conversation")
        fact: Decision = MessageSent(
            **request.model_dump(include=IDS | {"parent_id", "content"}),
            attachments=request.attachments,
            model=model,
            created_conversation=conversation is None,
        )
    else:
        question = await db.get(Message, (request.user_id, request.message_id))
        if not _in_conversation(question, request, "user"):
            return _rejected(request, "not_found", "no such message in this conversation")
        fact = ReplyRegenerated(**request.model_dump(include=IDS), model=model)
    return await _within_budget(db, settings, request) or fact


async def _completion(
    db: AsyncSession, settings: Settings, request: CompletionRequested
) -> Decision:
    """A completion goes ahead while its key (if it came through one) is live (revoked
    since `api` let it in: refused) and neither the key's budget nor its owner's is spent."""
    spent = await _within_budget(db, settings, request)
    if request.key_id is None:  # a temporary chat: the user's own budget alone
        return spent or CompletionAccepted.model_validate(request.model_dump())
    key = await db.get(ApiKey, (request.user_id, request.key_id))
    if key is None or key.revoked_at is not None:
        return _rejected(request, "key_revoked", "the API key was revoked")
    if spent is None and key.daily_token_budget is not None:
        used = await history.tokens_used_today(db, request.user_id, key_id=key.id)
        if used >= key.daily_token_budget:
            spent = _rejected(request, "budget_exceeded",
                              f"the key's daily budget of {key.daily_token_budget} tokens "
                              "is used up")  # fmt: skip
    return spent or CompletionAccepted.model_validate(request.model_dump())


async def _within_budget(
    db: AsyncSession, settings: Settings, request: Request
) -> MessageRejected | None:
    """The refusal if the user's daily budget is spent; None while it is not."""
    budget = settings.daily_token_budget
    if budget and await history.tokens_used_today(db, request.user_id) >= budget:
        return _rejected(
            request, "budget_exceeded", f"the daily budget of {budget} tokens is used up"
        )
    return None


def _rejected(request: MessagePayload, reason: str, detail: str) -> MessageRejected:
    return MessageRejected.model_validate(
        request.model_dump(include=IDS) | {"reason": reason, "detail": detail}
    )


def _in_conversation(message: Message | None, request: MessagePayload, role: str) -> bool:
    return (
        message is not None
        and message.conversation_id == request.conversation_id
        and message.role == role
    )


async def _is_reply_in_conversation(
    db: AsyncSession, redis: Redis, settings: Settings, request: MessagePayload, parent_id: UUID
) -> bool:
    """Whether `parent_id` is a reply of the request's conversation: in PostgreSQL, or, when
    the user answers faster than the projection, as `api` opened it in Redis."""
    parent = await db.get(Message, (request.user_id, parent_id))
    if parent is not None:
        return _in_conversation(parent, request, "assistant")
    return await Reply(redis, settings, parent_id).belongs_to(
        request.user_id, request.conversation_id
    )
