"""Chatting through the running stack: send, read a reply's SSE stream, wait for history."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, insert, select
from uuid6 import uuid7

from chatfn.chat.replies import TERMINAL, Reply
from chatfn.db import create_engine
from chatfn.local.broker.config import load_eventing
from chatfn.models import Conversation, Feedback, Message
from chatfn.redis_client import redis_client
from chatfn.settings import Settings
from tests.log_secrets import remember_prompt
from tests.utils.accounts import SignedIn
from tests.utils.broker import consumed
from tests.utils.waiting import until


@dataclass
class Event:
    id: str
    kind: str
    data: dict[str, Any]


@dataclass
class Read:
    events: list[Event] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(e.data["text"] for e in self.events if e.kind == "delta")

    @property
    def terminal(self) -> Event | None:
        """The terminal event `read_stream` stopped at (see `terminals_on_stream` for
        whether the server wrote exactly one)."""
        last = self.events[-1] if self.events else None
        return last if last and last.kind in {"done", "error"} else None


async def terminals_on_stream(settings: Settings, reply_id: str) -> list[str]:
    """The terminal entries the reply's Redis Stream holds: exactly one when it is over,
    however many deliveries, retries and stops tried to end it."""
    redis = redis_client(settings)
    written = await Reply(redis, settings, UUID(reply_id)).read()
    await redis.aclose()
    return [entry["type"] for _, entry in written.entries if entry["type"] in TERMINAL]


async def handled(settings: Settings, conversation: str, *triggers: str) -> None:
    """Wait until each of the stack's `triggers`, in turn, has handled every event of the
    conversation written so far (its consumer group committed past them). One handled
    before the next: an event the first replies with is written by then."""
    eventing = load_eventing(settings.eventing_dir)
    groups = {trigger.name: trigger.consumer_group for trigger in eventing.triggers}
    for trigger in triggers:
        await consumed(
            settings.kafka_bootstrap_servers, groups[trigger], eventing.topic, key=conversation
        )


async def new_conversation(client: httpx.AsyncClient, user: SignedIn) -> str:
    created = await client.post("/api/conversations", headers=user.auth)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def send(
    client: httpx.AsyncClient, user: SignedIn, conversation: str, content: str, **extra: Any
) -> dict[str, Any]:
    remember_prompt(content)  # for tests/log_secrets.py
    accepted = await client.post(
        f"/api/conversations/{conversation}/messages",
        headers=user.auth,
        json={"content": content, "model": "scripted"} | extra,
    )
    assert accepted.status_code == 202, accepted.text
    body: dict[str, Any] = accepted.json()
    return body


async def ticket(client: httpx.AsyncClient, user: SignedIn, reply_id: str) -> str:
    minted = await client.post(f"/api/replies/{reply_id}/ticket", headers=user.auth)
    assert minted.status_code == 201, minted.text
    return str(minted.json()["ticket"])


async def read_stream(
    client: httpx.AsyncClient,
    reply_id: str,
    stream_ticket: str,
    *,
    last_event_id: str | None = None,
    deltas: int | None = None,
) -> Read:
    """The stream's events until its terminal one, or until `deltas` deltas were read."""
    read = Read()
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    url = f"/api/replies/{reply_id}/stream"
    async with client.stream("GET", url, params={"ticket": stream_ticket}, headers=headers) as s:
        assert s.status_code == 200, await s.aread()
        assert s.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in s.aiter_lines():
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if not fields:
                continue
            read.events.append(Event(fields["id"], fields["event"], json.loads(fields["data"])))
            fields = {}
            if read.events[-1].kind in {"done", "error"}:
                break
            if deltas is not None and sum(e.kind == "delta" for e in read.events) >= deltas:
                break
    return read


async def conversation_when(
    client: httpx.AsyncClient,
    user: SignedIn,
    conversation: str,
    settled: int,
    timeout_s: float = 20,
    titled: bool = False,
) -> dict[str, Any]:
    """The conversation once `settled` of its replies are no longer streaming (persisted),
    and, with `titled`, once it has its generated title."""
    body: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                body = (
                    await client.get(f"/api/conversations/{conversation}", headers=user.auth)
                ).json()
                finished = [
                    m
                    for m in body["messages"]
                    if m["role"] == "assistant" and m["status"] != "streaming"
                ]
                if len(finished) >= settled and (body["title"] or not titled):
                    return body
                await asyncio.sleep(0.2)
    except TimeoutError:
        seen = {"title": body.get("title"), "messages": [
            (m["role"], m["status"]) for m in body.get("messages", [])
        ]}  # fmt: skip
        raise AssertionError(f"after {timeout_s} s the conversation is {seen}") from None


async def model_stats(settings: Settings) -> dict[str, Any]:
    """The scripted model's `GET /stats`: calls and the latest prompt per script id."""
    stats_url = settings.llm_routes["scripted"].removesuffix("/v1") + "/stats"
    async with httpx.AsyncClient() as client:
        stats: dict[str, Any] = (await client.get(stats_url)).json()
    return stats


async def model_calls(settings: Settings, script_id: str) -> int:
    return int((await model_stats(settings))["calls"].get(script_id, 0))


def script(**directives: object) -> str:
    """A directive for the scripted model (see chatfn.local.scripted_model)."""
    return "[[script " + " ".join(f"{k}={v}" for k, v in directives.items()) + "]]"


def words(count: int, start: int = 0) -> str:
    """The scripted model's answer: tokens `w{start} ... w{count-1}`."""
    return "".join(f"w{i} " for i in range(start, count))


async def long_history(
    settings: Settings, user_id: UUID, conversation_id: UUID, count: int
) -> list[UUID]:
    """`count` alternating messages in one branch, written straight into the read model."""
    ids: list[UUID] = [uuid7() for _ in range(count)]
    rows = [
        {"user_id": user_id, "id": message_id, "conversation_id": conversation_id,
         "parent_id": ids[i - 1] if i else None, "role": "user" if i % 2 == 0 else "assistant",
         "content": f"message {i}"}
        for i, message_id in enumerate(ids)
    ]  # fmt: skip
    engine = create_engine(settings, pooled=False)

    async def projected() -> bool:
        """The conversation was made through the API: persist_history writes it in its own time."""
        async with engine.connect() as connection:
            found = await connection.scalar(
                select(Conversation.id).where(
                    Conversation.user_id == user_id, Conversation.id == conversation_id
                )
            )
        return found is not None

    await until(projected)
    async with engine.begin() as connection:
        await connection.execute(insert(Message), rows)
    await engine.dispose()
    return ids


async def stored_feedback(settings: Settings, user_id: UUID, reply_id: UUID) -> tuple[str, str]:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(Feedback.rating, Feedback.comment).where(
                    Feedback.user_id == user_id, Feedback.message_id == reply_id
                )
            )
        ).one()
    await engine.dispose()
    return row.rating, row.comment


async def stop_was_requested(settings: Settings, reply_id: str) -> bool:
    redis = redis_client(settings)
    try:
        return await Reply(redis, settings, UUID(reply_id)).stop_requested()
    finally:
        await redis.aclose()


@dataclass
class Rows:
    """What PostgreSQL holds about a conversation and one of its replies, whoever's."""

    messages: int
    feedback: int


async def rows_about(settings: Settings, conversation_id: str, reply_id: str) -> Rows:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as connection:
        messages = await connection.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == UUID(conversation_id))
        )
        feedback = await connection.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.message_id == UUID(reply_id))
        )
    await engine.dispose()
    return Rows(messages=messages or 0, feedback=feedback or 0)
