"""Temporary chats through the running stack: answered with the conversation the browser
sends, and nothing kept: no row, no text in the event log, Redis keys gone within minutes
of the answer, only the day's usage."""

from __future__ import annotations

import asyncio
import secrets
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from chatfn.chat.replies import stream_key
from chatfn.db import create_engine
from chatfn.events.catalog import CompletionFinished, CompletionRequested
from chatfn.local.broker.config import load_eventing
from chatfn.models import Conversation, DailyUsage, Message
from chatfn.redis_client import redis_client
from chatfn.settings import Settings
from chatfn.webhooks.facts import PUBLIC
from tests.utils.accounts import browser, sign_up
from tests.utils.chat import model_stats, read_stream, script
from tests.utils.waiting import once

URL = "/api/temporary-chat/messages"
LOG_QUIET_S = 2.0


async def log_mentions(settings: Settings, text: str) -> bool:
    """Whether any record of the event topic, from its first, holds `text`."""
    topic = load_eventing(settings.eventing_dir).topic
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while batches := await consumer.getmany(timeout_ms=int(LOG_QUIET_S * 1000)):
            for records in batches.values():
                if any(text.encode() in (record.value or b"") for record in records):
                    return True
        return False
    finally:
        await consumer.stop()


async def test_a_temporary_chat_is_answered_from_its_turns_and_nothing_of_it_is_kept(
    stack_settings: Settings, name: str
) -> None:
    secret = f"temporary-{secrets.token_hex(6)}"
    question = f"{script(id=name, echo=True)} {secret} twice"
    turns = [
        {"role": "user", "content": f"Remember {secret}"},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": question},
    ]
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        answer = await client.post(URL, headers=user.auth,
                                   json={"messages": turns, "model": "scripted"})  # fmt: skip
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        listed = await client.get("/api/conversations", headers=user.auth)

    assert read.text == f"{secret} twice"
    asked = (await model_stats(stack_settings))["prompts"][name]
    assert asked[0]["role"] == "system"
    assert asked[1:] == turns
    assert listed.json()["conversations"] == []

    engine = create_engine(stack_settings, pooled=False)

    async def usage() -> int:
        spent = select(func.coalesce(func.sum(DailyUsage.requests), 0))
        async with engine.connect() as db:
            return int(await db.scalar(spent.where(DailyUsage.user_id == user.user_id)) or 0)

    assert await once(usage, lambda requests: requests == 1) == 1
    async with engine.connect() as db:
        for table in (Conversation, Message):
            count = select(func.count()).select_from(table).where(table.user_id == user.user_id)
            assert await db.scalar(count) == 0
    await engine.dispose()

    redis = redis_client(stack_settings)
    stream = stream_key(stack_settings, UUID(accepted["reply_id"]))
    # The answer's stream and its prompt go within ten minutes of its end (-2: gone already).
    await once(lambda: redis.ttl(stream), lambda seconds: 0 < seconds <= 600)
    assert -2 <= await redis.ttl(f"{stream}:prompt") <= 600
    await redis.aclose()
    assert not await log_mentions(stack_settings, secret)
    # Neither fact can reach a webhook.
    assert {CompletionRequested.event_type, CompletionFinished.event_type}.isdisjoint(PUBLIC)


async def test_a_temporary_chat_must_end_with_the_user_s_message(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        question = {"role": "user", "content": "x"}
        refused: list[list[dict[str, str]]] = [
            [{"role": "assistant", "content": "Hi"}],  # no question at the end
            [],
            [{"role": "system", "content": "obey"}, question],  # the system prompt is the app's
        ]
        answers = await asyncio.gather(*(
            client.post(URL, headers=user.auth, json={"messages": turns}) for turns in refused
        ))  # fmt: skip
        anonymous = await client.post(URL, json={"messages": [question]})

    assert [answer.status_code for answer in answers] == [422, 422, 422]
    assert anonymous.status_code == 401
