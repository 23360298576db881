"""Reads of the conversation history that the chat functions share (its one writer is
chatfn.chat.projection)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import BindParameter, Row, Select, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chatfn.models import DailyUsage, Message


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


async def tokens_used_today(db: AsyncSession, user_id: UUID, key_id: UUID | None = None) -> int:
    """Prompt and completion tokens the user spent since midnight UTC: through the API key
    `key_id`, or in all (the app and every key) without one."""
    query = select(
        func.coalesce(func.sum(DailyUsage.prompt_tokens + DailyUsage.completion_tokens), 0)
    ).where(DailyUsage.user_id == user_id, DailyUsage.day == datetime.now(UTC).date())
    if key_id is not None:
        query = query.where(DailyUsage.key_id == key_id)
    return int(await db.scalar(query) or 0)
