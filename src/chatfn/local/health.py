"""Dependency health, each checked over its own protocol.

Used by `chatfn status`, by `chatfn up` while it waits for servers, and by
`GET /api/health`. A check never raises: it reports what went wrong instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from chatfn.db import create_engine
from chatfn.llm import llm_client, preparing_detail
from chatfn.redis_client import redis_client
from chatfn.settings import Settings
from chatfn.storage import s3_client

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    latency_ms: float
    # Not answering yet, on its way (the local model while llama.cpp compiles): nothing to
    # wait for before the rest of the product starts.
    preparing: bool = False


class Preparing(Exception):
    """The server answers, and says it is not ready yet (and why: the exception's text)."""


async def check_postgres(settings: Settings) -> str:
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SHOW server_version"))
        return f"PostgreSQL {version}"
    finally:
        await engine.dispose()


async def check_redis(settings: Settings) -> str:
    client = redis_client(settings)
    try:
        await client.ping()
        info = await client.info("server")
        return f"Redis {info['redis_version']}"
    finally:
        await client.aclose()


async def check_kafka(settings: Settings) -> str:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=2000
    )
    await admin.start()
    try:
        topics = await admin.list_topics()
        return f"{len(topics)} topics"
    finally:
        await admin.close()


async def check_s3(settings: Settings) -> str:
    client = s3_client(settings)
    buckets = await asyncio.to_thread(client.list_buckets)
    return f"{len(buckets)} buckets"


async def check_llm(settings: Settings) -> str:
    client = llm_client(settings, timeout=CHECK_TIMEOUT_S)
    try:
        models = await client.models.list()
        for model in models.data:
            if (detail := preparing_detail(model)) is not None:
                raise Preparing(detail)
        return ", ".join(model.id for model in models.data) or "no models"
    finally:
        await client.close()


CHECKS: dict[str, Callable[[Settings], Awaitable[str]]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "kafka": check_kafka,
    "s3": check_s3,
    "llm": check_llm,
}


async def check(name: str, settings: Settings) -> Health:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            detail = await CHECKS[name](settings)
        ok = True
    except Preparing as preparing:
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Health(ok=False, detail=str(preparing), latency_ms=elapsed_ms, preparing=True)
    except Exception as exc:  # a health check reports every failure rather than raising
        detail, ok = f"{type(exc).__name__}: {exc}".strip(": "), False
    return Health(ok=ok, detail=detail, latency_ms=(time.perf_counter() - started) * 1000)


async def check_all(settings: Settings) -> dict[str, Health]:
    results = await asyncio.gather(*(check(name, settings) for name in CHECKS))
    return dict(zip(CHECKS, results, strict=True))
