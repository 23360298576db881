"""Redis: reply streams, request-reply rendezvous, rate limits and denylists all live here."""

from __future__ import annotations

from redis.asyncio import Redis

from chatfn.settings import Settings

# Longer than any blocking read chatfn makes (XREAD BLOCK 15 s, BLPOP up to the sign-up
# wait): redis-py's default of 5 s would cut those short.
SOCKET_TIMEOUT_S = 60


# redis-py 8 caps a pool at 100 and then raises; every sign-up waiting on its answer
# holds one connection for up to REGISTER_TIMEOUT_S.
MAX_CONNECTIONS = 1000

# A pooled connection idle this long is PINGed before use and remade if Redis restarted
# meanwhile, instead of failing the first command sent on it.
HEALTH_CHECK_INTERVAL_S = 10


def redis_client(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        max_connections=MAX_CONNECTIONS,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
    )


def key(settings: Settings, *parts: str) -> str:
    """A Redis key in this deployment's namespace (`REDIS_PREFIX`)."""
    return ":".join((settings.redis_prefix, *parts))
