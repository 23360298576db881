"""stream_reply built from functions/stream_reply.py and served over real HTTP (its answer
streams, which an in-process transport would hold back until the end)."""

from __future__ import annotations

import sys

import httpx
import pytest
from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import replies, tickets
from chatfn.settings import Settings, get_settings
from tests.utils.broker import serving
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
