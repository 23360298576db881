"""generate_reply built from functions/generate_reply.py, against the stack's Redis,
PostgreSQL and scripted model."""

from __future__ import annotations

import asyncio

from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import replies
from chatfn.events.catalog import MessageSendRequested, new_event
from chatfn.settings import Settings
from tests.utils.chat import model_calls, script, words
from tests.utils.functions import a_user, deliver, function_client, reply_of
from tests.utils.waiting import until

TOKENS = 100


async def test_a_delivery_that_loses_its_lease_stops_writing_and_the_next_one_resumes(
    function_env: Settings, name: str
) -> None:
    user_id = await a_user()
    command = MessageSendRequested(
        user_id=user_id, conversation_id=uuid7(), message_id=uuid7(), reply_id=uuid7(),
        parent_id=None, content=script(id=name, tokens=TOKENS, delay_ms=50), model="scripted",
    )  # fmt: skip
    async with function_client("send_message") as sender:
        sent = reply_of(await deliver(sender, new_event(command, source="chatfn/api")))
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
