"""stream_reply built from functions/stream_reply.py and served over real HTTP (its answer
streams, which an in-process transport would hold back until the end)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import cast
from uuid import UUID

import httpx
import pytest
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message
from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import replies, tickets, watch
from chatfn.chat.watch import BATCH, BUFFER, Watcher
from chatfn.settings import Settings, get_settings
from tests.utils.broker import eventually, serving
from tests.utils.chat import Read, read_stream
from tests.utils.functions import function_app, function_client

HEARTBEAT_S = 0.2  # 15 s in production: shortened, or the test waits as long


async def test_a_quiet_reply_gets_heartbeat_comments_until_its_events_come(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = function_app("stream_reply")
    monkeypatch.setattr(sys.modules["stream_reply"], "HEARTBEAT_S", HEARTBEAT_S)
    context = runtime.current()
    redis, settings = context.redis, context.settings
    user_id, reply_id = uuid7(), uuid7()
    reply = replies.Reply(redis, settings, reply_id)
    await reply.open(user_id=user_id, conversation_id=uuid7())
    ticket = await tickets.mint(redis, settings, user_id=user_id, reply_id=reply_id)

    quiet: list[str] = []
    events: list[str] = []
    async with serving(app) as url, httpx.AsyncClient(timeout=30) as client:
        stream_url = f"{url}api/replies/{reply_id}/stream"
        async with client.stream("GET", stream_url, params={"ticket": ticket}) as response:
            lines = response.aiter_lines()
            # Nothing is written yet: the model is quiet. Every line until now is a heartbeat.
            while quiet.count(": heartbeat") < 3:
                quiet.append(await anext(lines))
            await reply.append("hello", 1)
            await reply.finish("done", finish_reason="stop",
                               usage={"prompt_tokens": 1, "completion_tokens": 1})  # fmt: skip
            async for line in lines:
                events.append(line)
    # The stream ends after its terminal event.

    assert response.status_code == 200
    assert set(quiet) == {": heartbeat", ""}  # comment lines, each ending its own block
    kinds = [line for line in events if line.startswith("event: ")]
    assert kinds == ["event: delta", "event: done"]
    assert 'data: {"text": "hello"}' in events


async def test_an_id_of_the_right_shape_that_is_no_uuid_is_a_404(function_env: Settings) -> None:
    async with function_client("stream_reply") as client:
        answer = await client.get(f"/api/replies/{'-' * 36}/stream", params={"ticket": "t"})

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_redis_down_is_a_503_problem_with_retry_after(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    get_settings.cache_clear()
    runtime.current.cache_clear()

    async with function_client("stream_reply") as client:
        answer = await client.get(f"/api/replies/{uuid7()}/stream", params={"ticket": "t"})

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) > 0


async def _reply(settings: Settings) -> tuple[replies.Reply, UUID]:
    """A reply opened for a new user: the reply and its owner."""
    user_id = uuid7()
    reply = replies.Reply(runtime.current().redis, settings, uuid7())
    await reply.open(user_id=user_id, conversation_id=uuid7())
    return reply, user_id


async def _read(url: str, reply: replies.Reply, user_id: UUID, after: str | None = None) -> Read:
    ticket = await tickets.mint(reply.redis, reply.settings, user_id=user_id, reply_id=reply.id)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await read_stream(client, str(reply.id), ticket, last_event_id=after)


async def test_many_readers_and_one_resuming_mid_stream_each_get_every_entry_once_in_order(
    function_env: Settings,
) -> None:
    app = function_app("stream_reply")
    reply, user_id = await _reply(function_env)
    texts = [f"{n} " for n in range(200)]

    async with serving(app) as url:
        live = [asyncio.create_task(_read(url, reply, user_id)) for _ in range(20)]
        for text in texts[:100]:
            await reply.append(text, 1)
            await asyncio.sleep(0.001)  # several hand-overs, readers joining between them
        resume_after = cast(list[replies.Entry], await reply.redis.xrange(reply.stream))[9][0]
        resumed = asyncio.create_task(_read(url, reply, user_id, after=resume_after))
        for text in texts[100:]:
            await reply.append(text, 1)
            await asyncio.sleep(0.001)
        await reply.finish("done", finish_reason="stop", usage={})
        reads = await asyncio.gather(*live)
        rest = await resumed

    entries = cast(list[replies.Entry], await reply.redis.xrange(reply.stream))
    ids = [entry_id for entry_id, _ in entries]
    for read in reads:
        assert [event.id for event in read.events] == ids
        assert read.text == "".join(texts)
    assert [event.id for event in rest.events] == ids[10:]
    assert rest.text == "".join(texts[10:])


async def test_entries_at_hand_go_out_as_one_write_framed_as_one_event_each(
    function_env: Settings,
) -> None:
    app = function_app("stream_reply")
    reply, user_id = await _reply(function_env)
    for text in ("Hel", "lo", ' "world"\n'):
        await reply.append(text, 1)
    await reply.finish("done", finish_reason="stop", usage={"completion_tokens": 3})
    ticket = await tickets.mint(reply.redis, function_env, user_id=user_id, reply_id=reply.id)

    writes = await _body_writes(app, f"/api/replies/{reply.id}/stream", f"ticket={ticket}")

    # What the events were before they were batched: each entry decoded and its data
    # encoded anew. Passed through, the data must stay byte for byte the same.
    entries = cast(list[replies.Entry], await reply.redis.xrange(reply.stream))
    framed = []
    for entry_id, fields in entries:
        data = replies.decode(fields)
        framed.append(f"id: {entry_id}\nevent: {data.pop('type')}\ndata: {json.dumps(data)}\n\n")
    assert writes == ["".join(framed)]


async def _body_writes(app: ASGIApp, path: str, query: str) -> list[str]:
    """The body of `app`'s answer to a GET, as the ASGI messages it was sent in."""
    writes: list[str] = []
    ended = asyncio.Event()

    async def receive() -> Message:
        await ended.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("body"):
                writes.append(message["body"].decode())
            if not message.get("more_body", False):
                ended.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": [(b"host", b"stream-reply")],
        "client": ("127.0.0.1", 1), "server": ("stream-reply", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    return writes


async def test_a_reader_that_stops_reading_holds_a_bounded_buffer_and_later_gets_everything(
    redis: Redis, name: str
) -> None:
    stream = f"{name}:reply"
    watcher = Watcher(redis)
    await redis.xadd(stream, {"type": "delta", "data": '{"text": "0"}'})
    slow = watcher.batches(stream, "0-0", heartbeat_s=30)
    fast = watcher.batches(stream, "0-0", heartbeat_s=30)
    first = await anext(slow)  # then it reads no more for a while
    fast_seen = [entry_id for batch in [await anext(fast)] if batch for entry_id, _ in batch]

    total = 10 * BUFFER
    for start in range(1, total, BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(start, min(start + BATCH, total)):
                pipe.xadd(stream, {"type": "delta", "data": json.dumps({"text": str(n)})})
            await pipe.execute()
    await redis.xadd(stream, {"type": "done", "data": "{}"})
    async for batch in fast:
        assert batch is not None
        fast_seen += [entry_id for entry_id, _ in batch]
        assert max(len(reader.pending) for reader in watcher.readers[stream]) <= BUFFER
    slow_seen = [entry_id for entry_id, _ in first or []]
    async for batch in slow:
        assert batch is not None
        slow_seen += [entry_id for entry_id, _ in batch]

    ids = [entry_id for entry_id, _ in cast(list[replies.Entry], await redis.xrange(stream))]
    assert len(ids) == total + 1
    assert fast_seen == ids
    assert slow_seen == ids


async def test_a_stream_first_watched_while_the_xread_blocks_is_picked_up_at_once(
    redis: Redis, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "BLOCK_MS", 30_000)  # what "at once" must beat
    watcher = Watcher(redis)
    quiet = watcher.batches(f"{name}:quiet", "0-0", heartbeat_s=60)
    waiting = asyncio.ensure_future(anext(quiet))  # anext's is an awaitable, not a coroutine
    await eventually(lambda: bool(watcher.blocking_on), within=5)  # blocking on `quiet` alone
    await redis.xadd(f"{name}:new", {"type": "done", "data": "{}"})

    new = watcher.batches(f"{name}:new", "0-0", heartbeat_s=60)
    async with asyncio.timeout(5):
        picked_up = await anext(new)
    await new.aclose()
    await redis.xadd(f"{name}:quiet", {"type": "done", "data": "{}"})
    await waiting
    await quiet.aclose()

    assert picked_up is not None
    assert [fields["type"] for _, fields in picked_up] == ["done"]
