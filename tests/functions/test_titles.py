"""titles built from functions/titles.py, against the stack's PostgreSQL, Redis and scripted
model (which answers with the question's own text after `[[script echo]]`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

import pytest
from cloudevents.http import CloudEvent
from uuid6 import uuid7

from chatfn import runtime
from chatfn.events.catalog import (
    ConversationTitled,
    MessageSent,
    ReplyCompleted,
    fact_id,
    new_event,
)
from chatfn.settings import Settings
from tests.utils.chat import model_calls, model_stats, script
from tests.utils.functions import a_user, deliver, deliver_malformed, function_client, reply_of
from tests.utils.projection import project
from tests.utils.waiting import until

DAY_S = 24 * 3600

pytestmark = pytest.mark.usefixtures("redis")  # drops this test's keys afterwards


async def a_reply_to(question: str, title: str = "") -> ReplyCompleted:
    """A conversation of a user's own whose question got a reply, as send_message writes
    it (with `title`, when the conversation already has one), and the reply's completion."""
    sent = MessageSent(
        user_id=await a_user(), conversation_id=uuid7(), message_id=uuid7(), reply_id=uuid7(),
        content=question, model="scripted", created_conversation=True,
    )  # fmt: skip
    ids = {"user_id": sent.user_id, "conversation_id": sent.conversation_id}
    await project(sent, *([ConversationTitled(**ids, title=title)] if title else []))
    return ReplyCompleted(
        user_id=sent.user_id, conversation_id=sent.conversation_id, message_id=sent.message_id,
        reply_id=sent.reply_id, content="w0 w1 ", model="scripted", finish_reason="stop",
        prompt_tokens=3, completion_tokens=2,
    )  # fmt: skip


def completion(reply: ReplyCompleted) -> CloudEvent:
    return new_event(reply, source="chatfn/generate_reply")


async def chosen(conversation_id: UUID) -> tuple[str | None, int]:
    """The title kept in Redis for the conversation, and its time to live (-2: no key)."""
    context = runtime.current()
    name = f"{context.settings.redis_prefix}:title:{conversation_id}"
    # The client decodes responses, so a value is a str (redis-py types it more loosely).
    title = cast(str | None, await context.redis.get(name))
    return title, await context.redis.ttl(name)


async def test_a_completed_reply_names_its_conversation_with_the_models_title_cleaned(
    function_env: Settings, name: str
) -> None:
    # A small model's answer: code, then a markdown-laden, quoted, labelled title.
    question = (
        f'{script(id=name, echo=True)} ```python\nprint("hello")\n```\n'
        '**Title:** "Greeting the *world*"\nand a second line'
    )
    reply = await a_reply_to(question)
    event = completion(reply)

    async with function_client("titles") as client:
        titled = reply_of(await deliver(client, event))

    assert titled["type"] == "io.chatfn.conversation.titled"
    assert titled["source"] == "chatfn/titles"
    assert titled["id"] == fact_id(ConversationTitled, reply.conversation_id)
    assert titled["traceparent"] == event["traceparent"]
    assert titled.data == {
        "user_id": str(reply.user_id),
        "conversation_id": str(reply.conversation_id),
        "title": "Greeting the world",
    }
    assert await model_calls(function_env, name) == 1
    asked = (await model_stats(function_env))["prompts"][name]
    assert [message["role"] for message in asked] == ["system", "user"]
    assert asked[1]["content"] == question
    title, ttl = await chosen(reply.conversation_id)
    assert title == "Greeting the world"
    assert 0 < ttl <= DAY_S


async def test_a_redelivery_or_a_later_reply_gets_the_same_fact_without_asking_again(
    function_env: Settings, name: str
) -> None:
    reply = await a_reply_to(f"{script(id=name, echo=True)} Cats in haiku")
    # A second reply completes before persist_history has written the title.
    later = reply.model_copy(update={"message_id": uuid7(), "reply_id": uuid7()})
    await project(MessageSent(
        **later.model_dump(include={"user_id", "conversation_id", "message_id", "reply_id"}),
        content="And dogs?", model="scripted",
    ))  # fmt: skip
    event = completion(reply)

    async with function_client("titles") as client:
        first = reply_of(await deliver(client, event))
        again = reply_of(await deliver(client, event))
        after_later = reply_of(await deliver(client, completion(later)))

    assert first.data["title"] == "Cats in haiku"
    for duplicate in (again, after_later):
        assert duplicate["id"] == first["id"]  # one fact: persist_history skips the others
        assert duplicate.data == first.data
    assert await model_calls(function_env, name) == 1


async def test_a_delivery_that_dies_while_the_model_answers_leaves_the_next_one_to_ask(
    function_env: Settings, name: str
) -> None:
    # Two tokens at 750 ms each: the delivery is cut off while the model is still answering.
    reply = await a_reply_to(f"{script(id=name, echo=True, delay_ms=750)} Cats haiku")
    event = completion(reply)

    async with function_client("titles") as client:
        dying = asyncio.create_task(deliver(client, event))

        async def asked() -> bool:
            return await model_calls(function_env, name) == 1

        await until(asked)
        dying.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dying
        left = await chosen(reply.conversation_id)
        retried = reply_of(await deliver(client, event))

    assert left == (None, -2)  # nothing recorded before the model answered
    assert retried.data["title"] == "Cats haiku"
    assert await model_calls(function_env, name) == 2


@pytest.mark.parametrize("answer", ["code-only", "an-error"])
async def test_a_model_that_gives_no_title_leaves_the_first_words_of_the_question(
    function_env: Settings, name: str, answer: str
) -> None:
    scripted = {
        "code-only": f"{script(id=name, echo=True)} ```python\nprint('meow')\n```",
        "an-error": script(id=name, status=500, status_times=9),
    }[answer]
    reply = await a_reply_to(f"Write me a haiku about cats {scripted}")

    async with function_client("titles") as client:
        titled = reply_of(await deliver(client, completion(reply)))

    assert titled.data["title"] == "Write me a haiku about cats…"
    assert await model_calls(function_env, name) == 1


async def test_a_reply_that_comes_before_its_question_is_projected_is_retried_then_titled(
    function_env: Settings, name: str
) -> None:
    sent = MessageSent(
        user_id=await a_user(), conversation_id=uuid7(), message_id=uuid7(), reply_id=uuid7(),
        content=f"{script(id=name, echo=True)} Cats", model="scripted",
        created_conversation=True,
    )  # fmt: skip
    reply = ReplyCompleted(
        **sent.model_dump(include={"user_id", "conversation_id", "message_id", "reply_id"}),
        content="w0 ", model="scripted", finish_reason="stop", prompt_tokens=1,
        completion_tokens=1,
    )  # fmt: skip
    event = completion(reply)

    async with function_client("titles") as client:
        early = await deliver(client, event)
        await project(sent)  # persist_history catches up
        retried = await deliver(client, event)

    assert early.status_code == 503, early.text  # the broker retries it
    assert early.headers["content-type"] == "application/problem+json"
    assert reply_of(retried).data["title"] == "Cats"
    assert await model_calls(function_env, name) == 1


async def test_a_conversation_with_a_title_or_gone_for_long_is_left_alone(
    function_env: Settings, name: str
) -> None:
    titled = await a_reply_to(f"{script(id=name, echo=True)} Cats", title="Named by its user")
    unknown = ReplyCompleted(
        user_id=titled.user_id, conversation_id=uuid7(), message_id=uuid7(), reply_id=uuid7(),
        content="w0 ", model="scripted", finish_reason="stop", prompt_tokens=1,
        completion_tokens=1,
    )  # fmt: skip
    # An untitled conversation that exists, without the question (deleted meanwhile, say).
    untitled = await a_reply_to(f"{script(id=name, echo=True)} Dogs")
    no_question = untitled.model_copy(update={"message_id": uuid7()})
    # Still missing an hour after the reply: purged, or the owner deleted, not a projection
    # lagging behind.
    then = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    events = [completion(titled)]
    for reply in (unknown, no_question):
        events.append(completion(reply))
        events[-1]["time"] = then

    async with function_client("titles") as client:
        answers = [await deliver(client, event) for event in events]

    for answer in answers:
        assert answer.status_code == 202, answer.text
        assert answer.content == b""
    assert await model_calls(function_env, name) == 0
    assert await chosen(titled.conversation_id) == (None, -2)
    assert await chosen(untitled.conversation_id) == (None, -2)


async def test_bad_events_are_final_answers_for_the_dead_letter_sink(
    function_env: Settings, name: str
) -> None:
    reply = await a_reply_to(f"{script(id=name, echo=True)} Cats")
    invalid = completion(reply)
    invalid.data["finish_reason"] = "exploded"
    invalid.data["prompt_tokens"] = -1
    sent = MessageSent(
        **reply.model_dump(include={"user_id", "conversation_id", "message_id", "reply_id"}),
        content="Cats", model="scripted",
    )  # fmt: skip

    async with function_client("titles") as client:
        malformed = await deliver_malformed(client)
        not_consumed = await deliver(client, new_event(sent, source="chatfn/send_message"))
        unreadable = await deliver(client, invalid)
        probe = await client.get("/healthz")

    assert malformed.status_code == 400
    assert not_consumed.status_code == 400
    assert unreadable.status_code == 422
    assert {tuple(error["loc"]) for error in unreadable.json()["errors"]} == {
        ("finish_reason",),
        ("prompt_tokens",),
    }
    for answer in (malformed, not_consumed, unreadable):
        assert answer.headers["content-type"] == "application/problem+json"
    assert await model_calls(function_env, name) == 0
    assert probe.json() == {"function": "titles", "consumes": ["io.chatfn.reply.completed"]}
