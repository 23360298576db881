"""Redis: reply streams, request-reply rendezvous, rate limits and denylists all live here."""

from __future__ import annotations

from redis.asyncio import Redis

from chatfn.settings import Settings


def redis_client(settings: Settings) -> Redis:
    return Redis.from_url(settings.redis_url, decode_responses=True)


def key(settings: Settings, *parts: str) -> str:
    """A Redis key in this deployment's namespace (`REDIS_PREFIX`)."""
    return ":".join((settings.redis_prefix, *parts))
