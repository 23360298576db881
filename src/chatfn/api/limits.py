"""Rate limits that hold across every instance: counters in Redis (the `limits` library).

A sliding-window counter per (limit, identity) costs two Redis keys and one round
trip, and smooths the burst a fixed window allows at each boundary.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

import limits
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from chatfn.redis_client import HEALTH_CHECK_INTERVAL_S
from chatfn.settings import Settings
from chatfn.telemetry import instruments


class Exceeded(Exception):
    """A limit was hit; the client may try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@lru_cache(maxsize=8)
def _limiter(redis_url: str, prefix: str) -> SlidingWindowCounterRateLimiter:
    # redis-py, which chatfn already uses, instead of the library's default coredis.
    storage = RedisStorage(
        redis_url.replace("redis://", "async+redis://", 1),
        implementation="redispy",
        key_prefix=f"{prefix}:limits",
        # Its own pool: without this, a connection left from before a Redis restart
        # failed a sign-in minutes after Redis was back.
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
    )
    return SlidingWindowCounterRateLimiter(storage)


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.limiter = _limiter(settings.redis_url, settings.redis_prefix)

    async def hit(self, rule: str, *identity: str) -> None:
        """Count one request against `rule` (e.g. `10/minute`) for `identity`."""
        item = limits.parse(rule)
        if not await self.limiter.hit(item, *identity):
            raise await self._exceeded(item, identity)

    async def check(self, rule: str, *identity: str) -> None:
        """Raise `Exceeded` if `identity` has used up `rule`, without counting this call."""
        item = limits.parse(rule)
        if not await self.limiter.test(item, *identity):
            raise await self._exceeded(item, identity)

    async def _exceeded(self, item: limits.RateLimitItem, identity: tuple[str, ...]) -> Exceeded:
        # An identity's first part names what is limited ("ip", "user", "login-email" ...).
        instruments.rejections.add(1, {"reason": "rate_limit", "scope": identity[0]})
        stats = await self.limiter.get_window_stats(item, *identity)
        return Exceeded(retry_after_s=max(1, math.ceil(stats.reset_time - time.time())))
