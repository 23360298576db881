"""Stream tickets: how a browser opens a reply stream without a JWT in the URL.

`api` mints a ticket for one user and one reply; `stream_reply` redeems it once (GETDEL),
within `TTL_S`. A reconnecting reader asks `api` for a fresh one.
"""

from __future__ import annotations

import secrets
from uuid import UUID

from redis.asyncio import Redis

from chatfn.redis_client import key
from chatfn.settings import Settings

TTL_S = 60


async def mint(redis: Redis, settings: Settings, *, user_id: UUID, reply_id: UUID) -> str:
    ticket = secrets.token_urlsafe(24)
    await redis.set(key(settings, "ticket", ticket), f"{user_id}/{reply_id}", ex=TTL_S)
    return ticket


async def redeem(redis: Redis, settings: Settings, ticket: str, reply_id: UUID) -> UUID | None:
    """The user the ticket was minted for, if it is valid for `reply_id`; it is used up."""
    if not ticket or len(ticket) > 64:
        return None
    value = await redis.getdel(key(settings, "ticket", ticket))
    if value is None:
        return None
    user_id, _, minted_for = str(value).partition("/")
    return UUID(user_id) if minted_for == str(reply_id) else None
