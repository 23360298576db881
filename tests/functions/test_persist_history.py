"""persist_history built from functions/persist_history.py, against the stack's PostgreSQL:
the chat's facts become rows, each event is applied once, a bad one is a final answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from cloudevents.http import CloudEvent
from sqlalchemy import delete, func, select, update
from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import imports
from chatfn.chat.projection import PROJECTED
from chatfn.events.catalog import (
    ConversationTitled,
    ImportedMessage,
    MessageSendRequested,
    MessageSent,
    Payload,
    ReplyCompleted,
    ReplyFailed,
    ReplyRegenerated,
    new_event,
)
from chatfn.models import Conversation, Message, ProcessedEvent
from chatfn.settings import Settings
from tests.utils.functions import a_user, deliver, deliver_malformed, function_client

CONSUMER = "persist_history"


def fact(payload: Payload, source: str = "chatfn/send_message") -> CloudEvent:
    return new_event(payload, source=source)


def sent_in(user_id: UUID, conversation_id: UUID) -> MessageSent:
    return MessageSent(
        user_id=user_id, conversation_id=conversation_id, message_id=uuid7(), reply_id=uuid7(),
        parent_id=None, content="Hello", model="scripted", created_conversation=True,
    )  # fmt: skip


async def applied(client: httpx.AsyncClient, event: CloudEvent) -> None:
    """Deliver `event` and check the function took it and emitted nothing."""
    answer = await deliver(client, event)
    assert answer.status_code == 202, answer.text
    assert answer.content == b""


async def projection(user_id: UUID) -> dict[str, Any]:
    """What PostgreSQL holds of the user's chat, without the clocks."""
    async with runtime.current().sessions() as db:
        conversations = (
            await db.execute(select(Conversation.id, Conversation.title).where(
                Conversation.user_id == user_id))
        ).all()  # fmt: skip
        messages = (
            await db.execute(
                select(Message.id, Message.conversation_id, Message.parent_id, Message.role,
                       Message.content, Message.model, Message.status, Message.prompt_tokens,
                       Message.completion_tokens)
                .where(Message.user_id == user_id)
                .order_by(Message.id)
            )
        ).all()  # fmt: skip
    return {
        "conversations": [tuple(row) for row in conversations],
        "messages": [tuple(row) for row in messages],
    }


async def updated_at(user_id: UUID, conversation_id: UUID) -> datetime:
    async with runtime.current().sessions() as db:
        conversation = await db.get(Conversation, (user_id, conversation_id))
    assert conversation is not None
    return conversation.updated_at


async def ledger(event: CloudEvent) -> int:
    """How many times the ledger says this consumer handled `event`."""
    async with runtime.current().sessions() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(
                ProcessedEvent.consumer == CONSUMER,
                ProcessedEvent.source == event["source"],
                ProcessedEvent.id == event["id"],
            )
        )
    return count or 0


async def test_a_chat_becomes_rows_and_replaying_its_events_rebuilds_the_same_rows(
    function_env: Settings,
) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    sent = sent_in(user_id, conversation_id)
    ids = {"user_id": user_id, "conversation_id": conversation_id, "message_id": sent.message_id}
    failing, stopping = uuid7(), uuid7()
    events = [
        fact(sent),
        fact(ReplyCompleted(**ids, reply_id=sent.reply_id, content="w0 w1 ", model="scripted",
                            finish_reason="stop", prompt_tokens=3, completion_tokens=2),
             source="chatfn/generate_reply"),
        fact(ReplyRegenerated(**ids, reply_id=failing, model="other")),
        fact(ReplyFailed(**ids, reply_id=failing, content="half", model="other",
                         code="model_error", message="the model went away"),
             source="chatfn/generate_reply"),
        fact(ReplyRegenerated(**ids, reply_id=stopping, model="scripted")),
        fact(ReplyCompleted(**ids, reply_id=stopping, content="w0 ", model="scripted",
                            finish_reason="stopped", prompt_tokens=3, completion_tokens=1),
             source="chatfn/generate_reply"),
        fact(ConversationTitled(user_id=user_id, conversation_id=conversation_id,
                                title="Greetings"), source="chatfn/titles"),
    ]  # fmt: skip
    q, convo = sent.message_id, conversation_id
    expected = {
        "conversations": [(convo, "Greetings")],
        "messages": sorted([
            (q, convo, None, "user", "Hello", "scripted", "complete", 0, 0),
            (sent.reply_id, convo, q, "assistant", "w0 w1 ", "scripted", "complete", 3, 2),
            (failing, convo, q, "assistant", "half", "other", "failed", 0, 0),
            (stopping, convo, q, "assistant", "w0 ", "scripted", "stopped", 3, 1),
        ]),
    }  # fmt: skip

    async with function_client("persist_history") as client:
        for event in events:
            await applied(client, event)
        projected = await projection(user_id)
        # An empty read model (the ledger too) and the same events again, as a replay.
        async with runtime.current().sessions.begin() as db:
            await db.execute(delete(Conversation).where(Conversation.user_id == user_id))
            await db.execute(
                delete(ProcessedEvent).where(
                    ProcessedEvent.consumer == CONSUMER,
                    ProcessedEvent.id.in_([event["id"] for event in events]),
                )
            )
        assert await projection(user_id) == {"conversations": [], "messages": []}
        for event in events:
            await applied(client, event)
        replayed = await projection(user_id)

    assert projected == expected
    assert replayed == expected


async def test_a_redelivered_event_writes_nothing_new(function_env: Settings) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    event = fact(sent_in(user_id, conversation_id))
    # The same id from another source is another event (CloudEvents: source + id); the
    # projection stamps rows with an event's own time.
    later = (datetime.fromisoformat(event["time"]) + timedelta(seconds=1)).isoformat()
    elsewhere = CloudEvent(
        {**event.get_attributes(), "source": "chatfn/elsewhere", "time": later}, event.data
    )

    async with function_client("persist_history") as client:
        await applied(client, event)
        first = await updated_at(user_id, conversation_id)
        await applied(client, event)
        redelivered = await updated_at(user_id, conversation_id)
        await applied(client, elsewhere)
        other = await updated_at(user_id, conversation_id)

    # Applying the fact again would touch the conversation (its upsert sets updated_at).
    assert redelivered == first == datetime.fromisoformat(event["time"])
    assert other == datetime.fromisoformat(later)
    assert await ledger(event) == await ledger(elsewhere) == 1
    projected = await projection(user_id)
    assert len(projected["conversations"]) == 1
    assert len(projected["messages"]) == 2  # the question and its pending reply


async def test_a_generated_title_never_replaces_a_name_the_user_gave(
    function_env: Settings,
) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    titled = ConversationTitled(user_id=user_id, conversation_id=conversation_id, title="Chosen")

    async with function_client("persist_history") as client:
        await applied(client, fact(sent_in(user_id, conversation_id)))
        async with runtime.current().sessions.begin() as db:
            await db.execute(
                update(Conversation)
                .where(Conversation.user_id == user_id, Conversation.id == conversation_id)
                .values(title="Named by its user")
            )
        await applied(client, fact(titled, source="chatfn/titles"))

    assert (await projection(user_id))["conversations"] == [(conversation_id, "Named by its user")]


async def test_bad_events_are_final_answers_for_the_dead_letter_sink(
    function_env: Settings,
) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    sent = sent_in(user_id, conversation_id)
    # What PostgreSQL would refuse mid-transaction (a 500, retried) is refused first.
    nul = fact(sent)
    nul.data["content"] = "Secret words\x00"
    long_title = fact(
        ConversationTitled(user_id=user_id, conversation_id=conversation_id, title="t"),
        source="chatfn/titles",
    )
    long_title.data["title"] = "t" * 201
    long_model = fact(sent)
    long_model.data["model"] = "m" * 201  # the column holds 200
    ids = {"user_id": user_id, "conversation_id": conversation_id, "message_id": sent.message_id}
    huge_count = fact(
        ReplyCompleted(**ids, reply_id=sent.reply_id, content="w0 ", model="scripted",
                       finish_reason="stop", prompt_tokens=1, completion_tokens=1),
        source="chatfn/generate_reply",
    )  # fmt: skip
    huge_count.data["prompt_tokens"] = 2**31  # beyond PostgreSQL's integer
    command = MessageSendRequested(
        user_id=user_id, conversation_id=conversation_id, message_id=sent.message_id,
        reply_id=sent.reply_id, content="Hello",
    )  # fmt: skip

    async with function_client("persist_history") as client:
        malformed = await deliver_malformed(client)
        not_consumed = await deliver(client, fact(command, source="chatfn/api"))
        unstorable = await deliver(client, nul)
        too_long = await deliver(client, long_title)
        beyond_columns = [await deliver(client, e) for e in (long_model, huge_count)]
        probe = await client.get("/healthz")

    assert malformed.status_code == 400
    assert not_consumed.status_code == 400
    assert unstorable.status_code == 422
    assert too_long.status_code == 422
    assert [answer.status_code for answer in beyond_columns] == [422, 422]  # were 500s
    for answer in (malformed, not_consumed, unstorable, too_long, *beyond_columns):
        assert answer.headers["content-type"] == "application/problem+json"
    assert "Secret" not in unstorable.text  # the problem does not quote what the user wrote
    assert await projection(user_id) == {"conversations": [], "messages": []}
    assert await ledger(nul) == await ledger(long_title) == 0
    assert probe.json() == {
        "function": "persist_history",
        "consumes": sorted(payload.event_type for payload in PROJECTED),
    }


async def test_an_imported_conversation_keeps_its_tree_times_and_title_across_batches(
    function_env: Settings,
) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    root = ImportedMessage(id=uuid7(), parent_id=None, role="user", content="Hi",
                           created_at=start)  # fmt: skip
    replies = [
        ImportedMessage(id=uuid7(), parent_id=root.id, role="assistant", content=f"Hello {n}",
                        model="gpt-4o", created_at=start + timedelta(seconds=n + 1))
        for n in range(2)
    ]  # fmt: skip
    big = "x" * 100_000  # the longest message: six of them overflow one batch
    tail = [
        ImportedMessage(id=uuid7(), parent_id=replies[1].id, role="user", content=big,
                        created_at=start + timedelta(minutes=n + 1))
        for n in range(6)
    ]  # fmt: skip
    facts = list(imports.facts(user_id, conversation_id, "Trip", start, [root, *replies, *tail]))
    async with function_client("persist_history") as client:
        for imported in facts * 2:  # every batch delivered twice, as new events
            await applied(client, fact(imported, source="chatfn/api"))

    assert len(facts) == 2
    async with runtime.current().sessions() as db:
        conversation = await db.get(Conversation, (user_id, conversation_id))
        rows = (await db.scalars(
            select(Message).where(Message.user_id == user_id).order_by(Message.created_at)
        )).all()  # fmt: skip
    assert conversation is not None
    assert (conversation.title, conversation.created_at) == ("Trip", start)
    assert [(m.id, m.parent_id, m.model) for m in rows[:3]] == [
        (root.id, None, ""), (replies[0].id, root.id, "gpt-4o"), (replies[1].id, root.id, "gpt-4o")
    ]  # fmt: skip
    assert [m.created_at for m in rows] == [m.created_at for m in (root, *replies, *tail)]
    assert len(rows) == 9
