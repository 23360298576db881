"""A function process's clients, made on first use and kept for the process's life.

functions-framework has no startup hook and a function must not connect at import
time (Knative may start it only to probe it), so each client is created lazily.
`current()` is the process's runtime, built from the environment's settings.
"""

from __future__ import annotations

from functools import cache, cached_property

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatfn.db import create_engine
from chatfn.settings import Settings, get_settings
from chatfn.streams import redis_client


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(create_engine(self.settings), expire_on_commit=False)

    @cached_property
    def redis(self) -> Redis:
        return redis_client(self.settings)

    @cached_property
    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=10)


@cache
def current() -> Runtime:
    return Runtime(get_settings())
