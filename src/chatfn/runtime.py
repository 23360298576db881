"""A function process's clients, made on first use and kept for the process's life.

functions-framework has no startup hook and a function must not connect at import
time (Knative may start it only to probe it), so each client is created lazily.
`current()` is the process's runtime, built from the environment's settings on the first
request. By then every module is imported, so `current()` also freezes what exists into the
collector's permanent generation (`gc.freeze`): none of those 160,000-200,000 objects is
ever garbage, and a full collection over them stalls the process for 40-50 ms on an idle
core, several times that on busy ones.
"""

from __future__ import annotations

import gc
from functools import cache, cached_property
from typing import TYPE_CHECKING

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatfn.db import create_engine
from chatfn.redis_client import redis_client
from chatfn.settings import Settings, get_settings

if TYPE_CHECKING:
    from minio import Minio
    from openai import AsyncOpenAI


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._llm_clients: dict[str, AsyncOpenAI] = {}

    @cached_property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(create_engine(self.settings), expire_on_commit=False)

    @cached_property
    def redis(self) -> Redis:
        return redis_client(self.settings)

    @cached_property
    def llm(self) -> AsyncOpenAI:
        """The default model server."""
        return self.llm_for(self.settings.llm_model)

    def llm_for(self, model: str) -> AsyncOpenAI:
        """The server of `model`: its route in `LLM_ROUTES`, else the default one."""
        # Imported on first use: the openai SDK takes ~200 ms and ~15 MiB (PSS) to import,
        # which the functions that never ask a model would pay at each cold start.
        from chatfn.llm import llm_client

        base_url = self.settings.llm_routes.get(model, self.settings.llm_base_url)
        if base_url not in self._llm_clients:
            self._llm_clients[base_url] = llm_client(
                self.settings.model_copy(update={"llm_base_url": base_url}),
                timeout=self.settings.llm_timeout_s,
            )
        return self._llm_clients[base_url]

    @cached_property
    def s3(self) -> Minio:
        """The S3 client (blocking: call it through `asyncio.to_thread`)."""
        from chatfn.storage import s3_client

        return s3_client(self.settings)

    @cached_property
    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=10)


@cache
def current() -> Runtime:
    gc.freeze()
    return Runtime(get_settings())
