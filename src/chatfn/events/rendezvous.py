"""Request-reply over the broker, the way Knative's RequestReply does it, met in Redis.

`api` publishes a command carrying a `correlationid` extension and waits (bounded)
on a Redis list named after it; the function's result event comes back through a
Trigger to `api`, which pushes it onto that list. Any `api` instance may receive the
result and any may be the one waiting, so nothing depends on which pod got what.

The correlation id is signed (HMAC with the JWT secret): a result that does not carry
a signature made here is refused, so nobody can answer someone else's request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from redis.asyncio import Redis

from chatfn.redis_client import key
from chatfn.settings import Settings

EXTENSION = "correlationid"
RESULT_TTL_S = 120  # a result nobody waits for any more is dropped after this


def _signature(settings: Settings, nonce: str) -> str:
    secret = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(secret, f"rendezvous:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def new_correlation_id(settings: Settings) -> str:
    nonce = secrets.token_hex(16)
    return f"{nonce}.{_signature(settings, nonce)}"


def is_signed(settings: Settings, correlation_id: str) -> bool:
    nonce, _, signature = correlation_id.partition(".")
    return bool(nonce) and hmac.compare_digest(signature, _signature(settings, nonce))


async def wait_for_result(
    redis: Redis, settings: Settings, correlation_id: str, timeout_s: float
) -> dict[str, Any] | None:
    """The result delivered for `correlation_id`, or None once `timeout_s` has passed."""
    popped = await redis.blpop([key(settings, "rendezvous", correlation_id)], timeout=timeout_s)
    if popped is None:
        return None
    result: dict[str, Any] = json.loads(popped[1])
    return result


async def deliver_result(
    redis: Redis, settings: Settings, correlation_id: str, result: dict[str, Any]
) -> None:
    name = key(settings, "rendezvous", correlation_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(name, json.dumps(result))
        pipe.expire(name, RESULT_TTL_S)
        await pipe.execute()
