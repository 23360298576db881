"""Reading one's own writes: a user's facts that the PostgreSQL projection lacks yet.

`api` answers a change (a rename, a pin, the trash...) as soon as its fact is in the log,
with the state the fact implies, rather than waiting for `persist_history` to project it
(a broker hop: about 12 ms locally, a cold start when it has scaled to zero). It notes
the fact as pending for its user, `persist_history` strikes it once the fact is
committed, and a read for that user first waits, bounded, until none of theirs is
pending. So the author of a change sees it in their next read, at the cost of one Redis
round trip per read while nothing is pending.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from redis.asyncio import Redis

from chatfn.redis_client import key
from chatfn.settings import Settings

# A fact not projected by then is late (its function down, or the event dead-lettered):
# reads stop waiting for it, rather than each paying the whole wait.
PENDING_TTL_S = 30.0
POLL_S = 0.002


def _key(settings: Settings, user_id: UUID) -> str:
    return key(settings, "pending", str(user_id))


async def expect(redis: Redis, settings: Settings, user_id: UUID, event_id: str) -> None:
    """Note `event_id` as on its way to the projection (before it is published, so the
    projection cannot strike it first)."""
    name = _key(settings, user_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(name, {event_id: time.time()})
        pipe.expire(name, int(PENDING_TTL_S))
        await pipe.execute()


async def projected(redis: Redis, settings: Settings, user_id: UUID, event_id: str) -> None:
    await redis.zrem(_key(settings, user_id), event_id)


async def caught_up(redis: Redis, settings: Settings, user_id: UUID, timeout_s: float) -> bool:
    """Wait until the projection holds every fact of the user's that is pending; False
    if `timeout_s` passed first (the read then sees the projection as it is)."""
    name = _key(settings, user_id)
    deadline = time.monotonic() + timeout_s
    while True:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(name, "-inf", time.time() - PENDING_TTL_S)
            pipe.zcard(name)
            _, pending = await pipe.execute()
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
