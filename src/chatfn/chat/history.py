"""Conversation history in PostgreSQL: the projection of the chat events, and its reads.

Every write is an idempotent upsert keyed by ids the events carry, so applying an event
twice, or replaying the whole topic into an empty database, gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from uuid import UUID

from sqlalchemy import BindParameter, Row, Select, bindparam, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chatfn.events.catalog import (
    ConversationTitled,
    MessageSent,
    ReplyCompleted,
    ReplyFailed,
    ReplyRegenerated,
)
from chatfn.models import Conversation, Message


async def record_sent(db: AsyncSession, sent: MessageSent) -> None:
    """The conversation (created on its first message), the user's message and its pending
    reply, in two statements: `send_message` runs this before every first token."""
    await db.execute(
        insert(Conversation)
        .values(user_id=sent.user_id, id=sent.conversation_id)
        .on_conflict_do_update(index_elements=["user_id", "id"], set_={"updated_at": func.now()})
    )
    question = _message_row(sent, sent.message_id, sent.parent_id, role="user",
                            content=sent.content, status="complete")  # fmt: skip
    reply = _message_row(sent, sent.reply_id, sent.message_id, role="assistant", status="streaming")
    await db.execute(
        insert(Message)
        .values([question, reply])
        .on_conflict_do_nothing(index_elements=["user_id", "id"])
    )


async def record_regenerated(db: AsyncSession, regenerated: ReplyRegenerated) -> None:
    reply = _message_row(regenerated, regenerated.reply_id, regenerated.message_id,
                         role="assistant", status="streaming")  # fmt: skip
    await db.execute(
        insert(Message).values(reply).on_conflict_do_nothing(index_elements=["user_id", "id"])
    )
    await _touch(db, regenerated.user_id, regenerated.conversation_id)


def _message_row(
    fact: MessageSent | ReplyRegenerated,
    message_id: UUID,
    parent_id: UUID | None,
    *,
    role: str,
    status: str,
    content: str = "",
) -> dict[str, object]:
    """A message of the conversation `fact` is about, with every column an insert sets (the
    rows of one multi-row insert must name the same columns)."""
    return {
        "user_id": fact.user_id,
        "id": message_id,
        "conversation_id": fact.conversation_id,
        "parent_id": parent_id,
        "role": role,
        "content": content,
        "model": fact.model,
        "status": status,
    }


async def record_finished(db: AsyncSession, finished: ReplyCompleted | ReplyFailed) -> None:
    """A reply's final text, status and token counts."""
    if isinstance(finished, ReplyCompleted):
        status = "stopped" if finished.finish_reason == "stopped" else "complete"
        tokens = {
            "prompt_tokens": finished.prompt_tokens,
            "completion_tokens": finished.completion_tokens,
        }
    else:
        status, tokens = "failed", {}
    await db.execute(
        update(Message)
        .where(Message.user_id == finished.user_id, Message.id == finished.reply_id)
        .values(content=finished.content, status=status, **tokens)
    )
    await _touch(db, finished.user_id, finished.conversation_id)


async def record_title(db: AsyncSession, titled: ConversationTitled) -> None:
    """A generated title, unless the user has named the conversation meanwhile."""
    await db.execute(
        update(Conversation)
        .where(
            Conversation.user_id == titled.user_id,
            Conversation.id == titled.conversation_id,
            Conversation.title == "",
        )
        .values(title=titled.title)
    )


async def _touch(db: AsyncSession, user_id: UUID, conversation_id: UUID) -> None:
    await db.execute(
        update(Conversation)
        .where(Conversation.user_id == user_id, Conversation.id == conversation_id)
        .values(updated_at=func.now())
    )


def _branch_statement() -> Select[UUID, str, str, str]:
    """`:message_id` and its ancestors, all of `:user_id`, oldest first: what a prompt needs
    of each (rows, not entities: loading ORM objects cost more CPU than the query)."""
    user_id: BindParameter[UUID] = bindparam("user_id")
    lineage = (
        select(Message.id, Message.parent_id, literal(0).label("depth"))
        .where(Message.user_id == user_id, Message.id == bindparam("message_id"))
        .cte("lineage", recursive=True)
    )
    parent = aliased(Message)
    lineage = lineage.union_all(
        select(parent.id, parent.parent_id, lineage.c.depth + 1).join(
            lineage, (parent.user_id == user_id) & (parent.id == lineage.c.parent_id)
        )
    )
    return (
        select(Message.id, Message.role, Message.status, Message.content)
        .join(lineage, (Message.user_id == user_id) & (Message.id == lineage.c.id))
        .order_by(lineage.c.depth.desc())
    )


# Built once: constructing this statement cost more CPU than running it, on the path to
# every reply's first token.
BRANCH = _branch_statement()


async def branch(
    db: AsyncSession, user_id: UUID, message_id: UUID
) -> Sequence[Row[UUID, str, str, str]]:
    """`message_id` and its ancestors (id, role, status, content), oldest first: the
    conversation as this branch saw it."""
    return (await db.execute(BRANCH, {"user_id": user_id, "message_id": message_id})).all()


async def tokens_used_today(db: AsyncSession, user_id: UUID) -> int:
    """Prompt and completion tokens of the user's replies since midnight UTC."""
    midnight = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    used = await db.scalar(
        select(func.coalesce(func.sum(Message.prompt_tokens + Message.completion_tokens), 0)).where(
            Message.user_id == user_id, Message.created_at >= midnight
        )
    )
    return int(used or 0)
