"""generate_reply built from functions/generate_reply.py, against the stack's Redis,
PostgreSQL and scripted model."""

from __future__ import annotations

import asyncio
import json
from typing import cast

from cloudevents.http import CloudEvent
from redis.asyncio import Redis
from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import replies
from chatfn.chat.generation import ATTEMPTS, COALESCE_S
from chatfn.events.catalog import MessageSendRequested, new_event
from chatfn.settings import Settings
from tests.utils.chat import model_calls, script, words
from tests.utils.functions import a_user, deliver, function_client, reply_of
from tests.utils.waiting import until

TOKENS = 100


async def _message_sent(content: str) -> tuple[MessageSendRequested, CloudEvent]:
    """A message of a user of its own, sent: the command and the fact generate_reply gets."""
    command = MessageSendRequested(
        user_id=await a_user(), conversation_id=uuid7(), message_id=uuid7(), reply_id=uuid7(),
        parent_id=None, content=content, model="scripted",
    )  # fmt: skip
    async with function_client("send_message") as sender:
        sent = reply_of(await deliver(sender, new_event(command, source="chatfn/api")))
    return command, sent


async def _deltas(redis: Redis, reply: replies.Reply) -> list[dict[str, str]]:
    """The stream's delta entries as written, with the token count readers never see."""
    entries = cast(list[replies.Entry], await redis.xrange(reply.stream))
    return [fields for _, fields in entries if fields["type"] == "delta"]


async def test_a_delivery_that_loses_its_lease_stops_writing_and_the_next_one_resumes(
    function_env: Settings, name: str
) -> None:
    command, sent = await _message_sent(script(id=name, tokens=TOKENS, delay_ms=50))
    context = runtime.current()
    redis, settings = context.redis, context.settings
    reply = replies.Reply(redis, settings, command.reply_id)
    lease = f"{reply.stream}:lease"

    async with function_client("generate_reply") as generator:
        first = asyncio.create_task(deliver(generator, sent))

        async def mid_answer() -> bool:  # a few tokens in
            return len((await reply.read()).text.split()) >= 5

        await until(mid_answer)
        # Another delivery takes the reply over, as one does once a lease has expired.
        taken = await redis.set(lease, "another delivery", xx=True, px=60_000)
        async with asyncio.timeout(60):
            lost = await first
        when_lost = await reply.read()
        # That one dies too; the broker's next redelivery takes over and resumes.
        await redis.delete(lease)
        resumed = reply_of(await deliver(generator, sent))
    final = await reply.read()

    assert taken
    assert lost.status_code == 503, lost.text  # the broker is to try again later
    assert when_lost.terminal is None
    assert len(when_lost.text.split()) < TOKENS
    # Had the first delivery written on, its words and the resumed ones would interleave.
    assert final.text == words(TOKENS)
    assert final.terminal is not None
    assert final.terminal["finish_reason"] == "stop"
    assert resumed["type"] == "io.chatfn.reply.completed"
    assert resumed.data["completion_tokens"] == TOKENS
    assert await model_calls(settings, name) == 2  # the first call and one continuation


async def test_a_fast_model_s_tokens_are_written_a_window_at_a_time_the_first_at_once(
    function_env: Settings, name: str
) -> None:
    tokens, delay_s = 64, 0.010
    command, sent = await _message_sent(script(id=name, tokens=tokens, delay_ms=delay_s * 1000))
    context = runtime.current()
    reply = replies.Reply(context.redis, context.settings, command.reply_id)

    async with function_client("generate_reply") as generator:
        completed = reply_of(await deliver(generator, sent))
    deltas = await _deltas(context.redis, reply)

    # One entry per window the answer spans, give or take the first and the last.
    assert len(deltas) <= tokens * delay_s / COALESCE_S + 4 < tokens / 3
    # The first token is written alone, as it arrives, not held for a window.
    assert (json.loads(deltas[0]["data"])["text"], deltas[0]["tokens"]) == ("w0 ", "1")
    assert "".join(json.loads(delta["data"])["text"] for delta in deltas) == words(tokens)
    assert sum(int(delta["tokens"]) for delta in deltas) == tokens
    assert completed.data["content"] == words(tokens)
    assert completed.data["completion_tokens"] == tokens


async def test_stop_pressed_mid_answer_ends_the_reply_within_one_more_entry(
    function_env: Settings, name: str
) -> None:
    command, sent = await _message_sent(script(id=name, tokens=TOKENS, delay_ms=10))
    context = runtime.current()
    reply = replies.Reply(context.redis, context.settings, command.reply_id)

    async with function_client("generate_reply") as generator:
        generating = asyncio.create_task(deliver(generator, sent))

        async def mid_answer() -> bool:
            return len(await _deltas(context.redis, reply)) >= 3

        await until(mid_answer)
        await reply.request_stop()
        # Each write asks for stop in the same transaction, so every one from now sees it.
        before_stop = len(await _deltas(context.redis, reply))
        async with asyncio.timeout(10):
            stopped = reply_of(await generating)
    final = await reply.read()

    assert len(await _deltas(context.redis, reply)) <= before_stop + 1
    assert final.terminal is not None
    assert final.terminal["finish_reason"] == "stopped"
    assert len(final.text.split()) < TOKENS
    assert stopped["type"] == "io.chatfn.reply.completed"
    assert stopped.data["finish_reason"] == "stopped"


async def test_an_error_sent_mid_stream_is_retried_from_where_the_answer_broke(
    function_env: Settings, name: str
) -> None:
    _, sent = await _message_sent(script(id=name, tokens=12, fail_after=5, fail="error"))
    settings = runtime.current().settings

    async with function_client("generate_reply") as generator:
        completed = reply_of(await deliver(generator, sent))

    assert completed["type"] == "io.chatfn.reply.completed"
    assert completed.data["content"] == words(12)
    assert completed.data["completion_tokens"] == 12  # the broken attempt's 5 counted once
    assert await model_calls(settings, name) == 2


async def test_a_stream_that_ends_without_a_finish_reason_is_continued(
    function_env: Settings, name: str
) -> None:
    # `[DONE]` after 5 tokens and no finish chunk: cut short, as llama-cpp-python's server cuts
    # a stream another request interrupts, not a finished answer.
    _, sent = await _message_sent(
        script(id=name, tokens=12, fail_after=5, fail="end", fail_times=1)
    )
    settings = runtime.current().settings

    async with function_client("generate_reply") as generator:
        completed = reply_of(await deliver(generator, sent))

    assert completed["type"] == "io.chatfn.reply.completed"
    assert completed.data["content"] == words(12)
    assert completed.data["finish_reason"] == "stop"
    assert await model_calls(settings, name) == 2


async def test_a_model_that_sends_an_error_every_time_ends_the_reply_unavailable(
    function_env: Settings, name: str
) -> None:
    _, sent = await _message_sent(script(id=name, tokens=3, fail="error"))
    settings = runtime.current().settings

    async with function_client("generate_reply") as generator:
        failed = reply_of(await deliver(generator, sent))

    assert failed["type"] == "io.chatfn.reply.failed"
    assert failed.data["code"] == "model_unavailable"
    assert await model_calls(settings, name) == ATTEMPTS
