"""Reads of the conversation history that the chat functions share (its one writer is
chatfn.chat.projection)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from uuid import UUID

from sqlalchemy import BindParameter, Row, Select, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chatfn.models import Message


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
