from __future__ import annotations

from redis.asyncio import Redis


async def test_redis_round_trip(redis: Redis, name: str) -> None:
    await redis.set(f"{name}:greeting", "hello", ex=60)
    assert await redis.get(f"{name}:greeting") == "hello"
    assert 0 < await redis.ttl(f"{name}:greeting") <= 60


async def test_redis_stream_round_trip_in_order_with_entry_ids(redis: Redis, name: str) -> None:
    stream = f"{name}:reply"
    first = await redis.xadd(stream, {"text": "Hel"})
    second = await redis.xadd(stream, {"text": "lo"})

    entries = await redis.xrange(stream, min=first)

    assert entries == [(first, {"text": "Hel"}), (second, {"text": "lo"})]
