"""Thousands of readers of reply streams on one blocking Redis connection.

A blocking `XREAD` per reader would hold a Redis connection per open stream. Instead
one watcher per process blocks on all watched streams at once and only *wakes* the
readers of a stream that grew; each reader then fetches its own entries with a
non-blocking `XRANGE` from its own position. So a reader costs an `asyncio.Event`
and its cursor, and a slow reader only delays itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from chatfn.chat import replies

log = logging.getLogger(__name__)

# How long the watcher blocks before it picks up streams that began being watched
# meanwhile (their readers have caught up on their own first, so nothing is missed).
BLOCK_MS = 100
BATCH = 64
PICKUP_POLL_S = 0.005


class Watcher:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.cursors: dict[str, str] = {}  # stream -> the last entry id the watcher saw
        self.readers: dict[str, set[asyncio.Event]] = {}
        self.blocking_on: set[str] = set()  # the streams of the XREAD in flight
        self._task: asyncio.Task[None] | None = None

    def _watch(self, stream: str, after: str, wake: asyncio.Event) -> None:
        self.readers.setdefault(stream, set()).add(wake)
        self.cursors.setdefault(stream, after)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def _unwatch(self, stream: str, wake: asyncio.Event) -> None:
        waiting = self.readers.get(stream, set())
        waiting.discard(wake)
        if not waiting:
            self.readers.pop(stream, None)
            self.cursors.pop(stream, None)

    async def _run(self) -> None:
        while self.cursors:
            try:
                watched: dict[Any, Any] = dict(self.cursors)
                self.blocking_on = set(watched)
                grown = await self.redis.xread(watched, count=BATCH, block=BLOCK_MS)
            except RedisError as exc:
                log.warning(
                    "watching %d reply streams failed, retrying: %s", len(self.cursors), exc
                )
                await asyncio.sleep(0.5)
                continue
            for stream, entries in cast(list[tuple[str, list[replies.Entry]]], grown or []):
                if stream in self.cursors:
                    self.cursors[stream] = entries[-1][0]
                for wake in self.readers.get(stream, ()):
                    wake.set()

    async def entries(
        self, stream: str, after: str, heartbeat_s: float
    ) -> AsyncIterator[replies.Entry | None]:
        """The stream's entries after `after`, until the terminal one; None for each
        `heartbeat_s` without any."""
        wake = asyncio.Event()
        self._watch(stream, after, wake)
        try:
            while True:
                wake.clear()  # before reading: a wake-up during the read is not lost
                batch = cast(
                    list[replies.Entry],
                    await self.redis.xrange(stream, min=f"({after}", count=BATCH),
                )
                for entry_id, fields in batch:
                    after = entry_id
                    yield entry_id, fields
                    if fields.get("type") in replies.TERMINAL:
                        return
                if len(batch) == BATCH:
                    continue
                # Until the watcher's next XREAD includes this stream, poll briefly instead.
                watched = stream in self.blocking_on
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(heartbeat_s if watched else PICKUP_POLL_S):
                        await wake.wait()
                        continue
                if watched:
                    yield None
        finally:
            self._unwatch(stream, wake)
