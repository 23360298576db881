from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from cloudevents.http import CloudEvent
from sqlalchemy import func, select
from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import replies
from chatfn.events.catalog import MessageSendRequested, MessageSent, ReplyCompleted, new_event
from chatfn.models import Conversation, Message
from chatfn.settings import Settings, get_settings
from tests.utils.functions import a_user, deliver, function_client, reply_of
from tests.utils.projection import project


def sent_fact(event: CloudEvent) -> MessageSent:
    return MessageSent.model_validate(event.data)


def spent(event: CloudEvent, tokens: int) -> ReplyCompleted:
    """The completion of the reply `event` sent, `tokens` long."""
    ids = {"user_id", "conversation_id", "message_id", "reply_id"}
    return ReplyCompleted(
        **{name: event.data[name] for name in ids}, content="w", model="scripted",
        finish_reason="stop", prompt_tokens=0, completion_tokens=tokens,
    )  # fmt: skip


def spend_at_most(monkeypatch: pytest.MonkeyPatch, tokens: int) -> None:
    monkeypatch.setenv("DAILY_TOKEN_BUDGET", str(tokens))
    get_settings.cache_clear()
    runtime.current.cache_clear()


def send(user_id: UUID, conversation_id: UUID, parent_id: UUID | None = None) -> CloudEvent:
    payload = MessageSendRequested(
        user_id=user_id, conversation_id=conversation_id, message_id=uuid7(), reply_id=uuid7(),
        parent_id=parent_id, content="Hello",
    )  # fmt: skip
    return new_event(payload, source="chatfn/api")


async def test_a_first_message_is_sent_once_and_writes_no_row(function_env: Settings) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    command = send(user_id, conversation_id)

    async with function_client("send_message") as client:
        first = reply_of(await deliver(client, command))
        again = reply_of(await deliver(client, command))

    assert first["type"] == again["type"] == "io.chatfn.message.sent"
    assert first["id"] == again["id"]  # one fact, however often it is emitted
    assert first.data == again.data
    assert first.data["created_conversation"] is True
    async with runtime.current().sessions() as db:  # the rows are persist_history's to write
        assert await db.get(Conversation, (user_id, conversation_id)) is None
        count = select(func.count()).select_from(Message).where(Message.user_id == user_id)
        assert await db.scalar(count) == 0


async def test_a_redelivered_command_is_decided_as_it_was_the_first_time(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await a_user()
    command = send(user_id, uuid7())
    async with function_client("send_message") as client:
        first = reply_of(await deliver(client, command))
    # The budget is spent between the two deliveries: the first decision stands.
    await project(sent_fact(first), spent(first, 1000))
    spend_at_most(monkeypatch, 1000)
    async with function_client("send_message") as client:
        again = reply_of(await deliver(client, command))

    assert again["type"] == "io.chatfn.message.sent"
    assert again["id"] == first["id"]


async def test_a_reply_not_projected_yet_is_a_parent_its_conversation_may_answer(
    function_env: Settings,
) -> None:
    """The user answers a reply before persist_history has written it: `api` opened it."""
    user_id, conversation_id = await a_user(), uuid7()
    context = runtime.current()
    parent = uuid7()
    reply = replies.Reply(context.redis, context.settings, parent)
    await reply.open(user_id=user_id, conversation_id=conversation_id)
    async with function_client("send_message") as client:
        answered = reply_of(await deliver(client, send(user_id, conversation_id, parent)))
        elsewhere = reply_of(await deliver(client, send(user_id, uuid7(), parent)))

    assert answered["type"] == "io.chatfn.message.sent"
    assert elsewhere["type"] == "io.chatfn.message.rejected"


async def test_a_parent_from_another_conversation_is_not_found_and_ends_the_stream(
    function_env: Settings,
) -> None:
    user_id = await a_user()
    async with function_client("send_message") as client:
        elsewhere = reply_of(await deliver(client, send(user_id, uuid7())))
        rejected = reply_of(
            await deliver(client, send(user_id, uuid7(), UUID(elsewhere.data["reply_id"])))
        )

    assert rejected["type"] == "io.chatfn.message.rejected"
    assert rejected.data["reason"] == "not_found"
    context = runtime.current()
    reply_id = UUID(rejected.data["reply_id"])
    written = await replies.Reply(context.redis, context.settings, reply_id).read()
    assert written.terminal == {"type": "error", "code": "not_found",
                                "message": rejected.data["detail"]}  # fmt: skip


async def test_a_spent_daily_budget_is_refused(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await a_user()
    async with function_client("send_message") as client:
        sent = reply_of(await deliver(client, send(user_id, uuid7())))
    await project(sent_fact(sent), spent(sent, 1000))
    spend_at_most(monkeypatch, 1000)

    async with function_client("send_message") as client:
        refused = reply_of(await deliver(client, send(user_id, uuid4())))

    assert refused["type"] == "io.chatfn.message.rejected"
    assert refused.data["reason"] == "budget_exceeded"
