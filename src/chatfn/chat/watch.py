"""Thousands of readers of reply streams on one blocking Redis connection.

A blocking `XREAD` per reader would hold a Redis connection per open stream. Instead
one watcher per process blocks on all watched streams at once and hands the entries
its `XREAD` returns straight to the readers that are up to date, so a delta costs one
Redis round trip however many read it. A reader that is behind (it joined with an
older `Last-Event-ID`, or it is slow and its bounded buffer filled up) fetches the gap
itself with a non-blocking `XRANGE` from its own position, so a reader costs an
`asyncio.Event`, its position and at most `BUFFER` entries, and a slow reader only
delays itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from chatfn.chat import replies

log = logging.getLogger(__name__)

# How long an XREAD blocks at most: the longest a new stream waits to be picked up if
# the XREAD in flight cannot be woken (see `_pick_up`).
BLOCK_MS = 100
BATCH = 64  # entries per stream in one XREAD or XRANGE
BUFFER = 2 * BATCH  # entries handed to a reader that it has not taken yet
# After handing out entries, the watcher waits this long before its next XREAD, so that
# deltas arriving meanwhile go out together: one wake and one write per reader instead
# of one per delta. 64-delta replies written back to back, 1 and 10 at once: stream
# reading 13.5 -> 5.0 and 7.5 -> 3.0 ms of CPU per reply, for at most 5 ms more per delta.
GATHER_S = 0.005

Batch = list[replies.Entry]


def _later(entry_id: str, than: str) -> bool:
    """Stream entry ids are `<ms>-<seq>`: compared as numbers, not as text."""
    ms, _, seq = entry_id.partition("-")
    than_ms, _, than_seq = than.partition("-")
    return (int(ms), int(seq)) > (int(than_ms), int(than_seq))


def _until_terminal(batch: Batch) -> tuple[Batch, bool]:
    """`batch` up to and including a terminal entry, and whether it had one."""
    for index, (_, fields) in enumerate(batch):
        if fields.get("type") in replies.TERMINAL:
            return batch[: index + 1], True
    return batch, False


class _Reader:
    """One open stream's reader: its position and what it was handed but has not taken."""

    __slots__ = ("after", "failure", "pending", "wake")

    def __init__(self, after: str) -> None:
        self.after = after  # the last entry handed to it (taken or pending)
        self.pending: Batch = []
        self.wake = asyncio.Event()
        self.failure: RedisError | None = None

    def receive(self, entries: Batch, follows: str) -> None:
        """Take `entries`, the stream's entries right after `follows`, as far as the
        buffer allows. Entries past a gap (it has not been handed `follows` yet) are
        left for it to fetch itself."""
        if follows != self.after:
            if _later(follows, self.after):
                entries = []
            else:  # it fetched some of them itself already
                entries = [entry for entry in entries if _later(entry[0], self.after)]
        taken = entries[: BUFFER - len(self.pending)]
        if taken:
            self.pending.extend(taken)
            self.after = taken[-1][0]

    def take(self) -> Batch:
        batch, self.pending = self.pending, []
        return batch


class Watcher:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.cursors: dict[str, str] = {}  # stream -> the last entry id the watcher saw
        self.readers: dict[str, set[_Reader]] = {}
        self.blocking_on: set[str] = set()  # the streams of the XREAD in flight
        self._blocking = redis.client()  # one connection of its own, so it can be woken
        self._blocking_id: int | None = None  # its CLIENT ID, if known
        self._may_unblock = True
        self._task: asyncio.Task[None] | None = None
        self._unblocking: asyncio.Task[None] | None = None

    def _watch(self, stream: str, reader: _Reader) -> None:
        self.readers.setdefault(stream, set()).add(reader)
        self.cursors.setdefault(stream, reader.after)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        elif self.blocking_on and stream not in self.blocking_on:
            self._pick_up()

    def _unwatch(self, stream: str, reader: _Reader) -> None:
        waiting = self.readers.get(stream, set())
        waiting.discard(reader)
        if not waiting:
            self.readers.pop(stream, None)
            self.cursors.pop(stream, None)

    def _pick_up(self) -> None:
        """End the XREAD in flight now, so that the next one includes the new streams,
        rather than when it times out (up to BLOCK_MS later)."""
        busy = self._unblocking is not None and not self._unblocking.done()
        if self._may_unblock and self._blocking_id is not None and not busy:
            self._unblocking = asyncio.create_task(self._unblock(self._blocking_id))

    async def _unblock(self, client_id: int) -> None:
        try:
            unblocked = await self.redis.client_unblock(client_id)
        except ResponseError as exc:  # CLIENT not allowed, say: pick-ups wait for BLOCK_MS
            log.warning("cannot wake the watcher's XREAD (%s); new streams wait for it", exc)
            self._may_unblock = False
            return
        except RedisError:
            return  # the XREAD fails as well, and that ends its readers
        if not unblocked:  # its connection may have been made anew: ask its id again
            self._blocking_id = None

    async def _run(self) -> None:
        self._blocking_id = None
        while self.cursors:
            try:
                if self._blocking_id is None:
                    self._blocking_id = await self._blocking.client_id()
                watched: dict[Any, Any] = dict(self.cursors)
                self.blocking_on = set(watched)
                grown = await self._blocking.xread(watched, count=BATCH, block=BLOCK_MS)
                self.blocking_on = set()
            except RedisError as exc:
                self.blocking_on = set()
                self._blocking_id = None
                self._fail_readers(exc)
                await asyncio.sleep(0.5)
                continue
            for stream, entries in cast(list[tuple[str, Batch]], grown or []):
                if stream in self.cursors:
                    self.cursors[stream] = entries[-1][0]
                for reader in self.readers.get(stream, ()):
                    reader.receive(entries, follows=watched[stream])
                    reader.wake.set()  # even if it took nothing: it may be behind now
            if grown:
                await asyncio.sleep(GATHER_S)

    def _fail_readers(self, exc: RedisError) -> None:
        """End every open stream: its reader reconnects with `Last-Event-ID` and is then
        watched afresh, whatever the watcher missed meanwhile."""
        log.warning("watching %d reply streams failed: %s", len(self.cursors), exc)
        for readers in self.readers.values():
            for reader in readers:
                reader.failure = exc
                reader.wake.set()

    def _behind(self, stream: str, reader: _Reader) -> bool:
        cursor = self.cursors[stream]
        return reader.after != cursor and _later(cursor, reader.after)

    async def _fetch(self, stream: str, reader: _Reader) -> None:
        start = reader.after
        fetched = await self.redis.xrange(stream, min=f"({start}", count=BATCH)
        reader.receive(cast(Batch, fetched), follows=start)

    async def batches(
        self, stream: str, after: str, heartbeat_s: float
    ) -> AsyncGenerator[Batch | None, None]:
        """The stream's entries after `after`, in batches of those at hand, until the
        terminal one; None for each `heartbeat_s` without any. Raises the RedisError that
        stopped the watcher or this reader."""
        reader = _Reader(after)
        self._watch(stream, reader)
        try:
            while True:
                reader.wake.clear()  # before looking: a hand-over meanwhile is not lost
                if reader.pending:
                    batch, ended = _until_terminal(reader.take())
                    yield batch
                    if ended:
                        return
                elif reader.failure is not None:
                    raise reader.failure
                elif self._behind(stream, reader):
                    await self._fetch(stream, reader)
                elif not await _woken(reader.wake, heartbeat_s):
                    yield None
        finally:
            self._unwatch(stream, reader)


async def _woken(wake: asyncio.Event, within_s: float) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await wake.wait()
            return True
    return False
