from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from cloudevents.http import CloudEvent
from sqlalchemy import func, select
from uuid6 import uuid7

from chatfn import runtime
from chatfn.chat import replies
from chatfn.events.catalog import MessageSendRequested, new_event
from chatfn.models import Conversation, Message
from chatfn.settings import Settings, get_settings
from tests.utils.functions import a_user, deliver, function_client, reply_of


def send(user_id: UUID, conversation_id: UUID, parent_id: UUID | None = None) -> CloudEvent:
    payload = MessageSendRequested(
        user_id=user_id, conversation_id=conversation_id, message_id=uuid7(), reply_id=uuid7(),
        parent_id=parent_id, content="Hello",
    )  # fmt: skip
    return new_event(payload, source="chatfn/api")


async def test_a_first_message_creates_the_conversation_and_a_redelivery_writes_nothing_new(
    function_env: Settings,
) -> None:
    user_id, conversation_id = await a_user(), uuid7()
    command = send(user_id, conversation_id)

    async with function_client("send_message") as client:
        first = reply_of(await deliver(client, command))
        again = reply_of(await deliver(client, command))

    assert first["type"] == again["type"] == "io.chatfn.message.sent"
    assert first["id"] == again["id"]  # one fact, however often it is emitted
    assert first.data["created_conversation"] is True
    async with runtime.current().sessions() as db:
        assert await db.get(Conversation, (user_id, conversation_id)) is not None
        count = select(func.count()).select_from(Message).where(Message.user_id == user_id)
        assert await db.scalar(count) == 2  # the message and its pending reply


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
    async with runtime.current().sessions.begin() as db:
        reply = await db.get(Message, (user_id, UUID(sent.data["reply_id"])))
        assert reply is not None
        reply.completion_tokens = 1000
    monkeypatch.setenv("DAILY_TOKEN_BUDGET", "1000")
    get_settings.cache_clear()
    runtime.current.cache_clear()

    async with function_client("send_message") as client:
        refused = reply_of(await deliver(client, send(user_id, uuid4())))

    assert refused["type"] == "io.chatfn.message.rejected"
    assert refused.data["reason"] == "budget_exceeded"
