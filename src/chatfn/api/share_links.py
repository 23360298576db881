"""Deleting share links (`api` is the shares' one writer): revoked by their owner, or gone
with their conversation the moment `api` purges it (by the user, or the trash sweep)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.api.security import Api
from chatfn.events.catalog import ShareRevoked
from chatfn.models import Share


async def forget(api: Api, db: AsyncSession, shares: Sequence[Share]) -> None:
    """Delete `shares` and say so."""
    for share in shares:
        gone = await db.execute(
            delete(Share).where(Share.user_id == share.user_id, Share.id == share.id)
        )
        await db.commit()
        if getattr(gone, "rowcount", 0):  # a concurrent request may have deleted it first
            await api.publish_fact(ShareRevoked(user_id=share.user_id, share_id=share.id),
                                   "the revocation")  # fmt: skip


async def forget_conversation(
    api: Api, db: AsyncSession, user_id: UUID, conversation_id: UUID
) -> None:
    """Delete the links to a conversation that is being purged: its snapshot goes with it."""
    shares = await db.scalars(
        select(Share).where(Share.user_id == user_id, Share.conversation_id == conversation_id)
    )
    await forget(api, db, shares.all())
