"""Kafka is the log of record: a varied history, made through the running stack, is
rebuilt by `chatfn replay` into an empty database, row for row."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import httpx
import pytest
from sqlalchemy import Table, select

from chatfn.db import create_engine
from chatfn.local.broker.config import load_eventing
from chatfn.local.replay import CHAT_TABLES, NotEmpty, replay
from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, make_admin, sign_up
from tests.utils.chat import handled, new_conversation, read_stream, script, send
from tests.utils.isolation import fresh_database

PERSIST = "persist-history-on-chat-facts"


async def answered(client: httpx.AsyncClient, user: SignedIn, conversation: str, content: str,
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
    """Send and read the reply to its end."""
    accepted = await send(client, user, conversation, content, **extra)
    await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
    return accepted


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.is_success, response.text
    return response.json() if response.content else {}


async def a_varied_history(client: httpx.AsyncClient, user: SignedIn) -> list[str]:
    """Every kind of chat fact, for `user`; the conversations it touched."""
    auth = user.auth
    kept = await new_conversation(client, user)
    first = await answered(client, user, kept, f"{script(tokens=3)} Hello")
    # An edit of the first message (a sibling root), a follow-up, a regeneration.
    await answered(client, user, kept, f"{script(tokens=2)} Hello again")
    follow = await answered(client, user, kept, f"{script(tokens=4)} More",
                            parent_id=first["reply_id"])  # fmt: skip
    regenerated = await ok(await client.post(
        f"/api/messages/{follow['reply_id']}/regenerate", headers=auth, json={}))  # fmt: skip
    await read_stream(client, regenerated["reply_id"], regenerated["stream_ticket"])
    # A failed reply and a stopped one.
    failing = script(id=f"{user.user_id}-fails", tokens=3, status=503, status_times=4)
    await answered(client, user, kept, f"{failing} Boom", parent_id=first["reply_id"])
    slow = await send(client, user, kept, f"{script(tokens=200, delay_ms=20)} Long",
                      parent_id=first["reply_id"])  # fmt: skip
    await read_stream(client, slow["reply_id"], slow["stream_ticket"], deltas=2)
    await ok(await client.post(f"/api/replies/{slow['reply_id']}/stop", headers=auth))
    await read_stream(client, slow["reply_id"], await _ticket(client, user, slow["reply_id"]))
    await ok(await client.post(f"/api/messages/{first['reply_id']}/feedback", headers=auth,
                               json={"rating": "down", "comment": "too short"}))  # fmt: skip
    await ok(await client.post(f"/api/messages/{first['reply_id']}/feedback", headers=auth,
                               json={"rating": "up"}))  # fmt: skip
    updates = ({"title": "Named"}, {"pinned": True}, {"archived": True}, {"archived": False})
    for update in updates:
        await ok(await client.patch(f"/api/conversations/{kept}", headers=auth, json=update))
    # Trashed and restored; trashed and purged; created with a title and left empty.
    restored = await new_conversation(client, user)
    await answered(client, user, restored, f"{script(tokens=2)} Keep me")
    await ok(await client.delete(f"/api/conversations/{restored}", headers=auth))
    await ok(await client.post(f"/api/conversations/{restored}/restore", headers=auth))
    purged = await new_conversation(client, user)
    await answered(client, user, purged, f"{script(tokens=2)} Forget me")
    await ok(await client.delete(f"/api/conversations/{purged}", headers=auth))
    await ok(await client.delete(f"/api/conversations/trash/{purged}", headers=auth))
    empty = await ok(await client.post("/api/conversations", headers=auth, json={"title": "Empty"}))
    preferences = {"theme": "dark", "custom_instructions": "Be brief."}
    await ok(await client.patch("/api/me", headers=auth, json=preferences))
    await ok(await client.patch("/api/me", headers=auth, json={"default_model": "scripted"}))
    return [kept, restored, purged, str(empty["id"])]


async def _ticket(client: httpx.AsyncClient, user: SignedIn, reply_id: str) -> str:
    minted = await ok(await client.post(f"/api/replies/{reply_id}/ticket", headers=user.auth))
    return str(minted["ticket"])


async def rows(database_url: str, users: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every chat table's rows of `users`, every column, in primary-key order."""
    engine = create_engine(Settings(DATABASE_URL=database_url), pooled=False)
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as connection:
        for model in CHAT_TABLES:
            table = cast(Table, model.__table__)
            query = (
                select(table)
                .where(table.c.user_id.in_([UUID(user) for user in users]))
                .order_by(*table.primary_key)
            )
            found[model.__tablename__] = [tuple(r) for r in (await connection.execute(query)).all()]
    await engine.dispose()
    return found


async def test_a_replay_of_the_log_rebuilds_the_chat_tables_row_for_row(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversations = await a_varied_history(client, user)
        admin = await sign_up(client, f"{name}-admin")
        await make_admin(stack_settings, admin.user_id)
        leaving = await sign_up(client, f"{name}-leaving")
        left_behind = await new_conversation(client, leaving)
        await answered(client, leaving, left_behind, f"{script(tokens=2)} Bye")
        await ok(await client.delete(f"/api/admin/users/{leaving.user_id}", headers=admin.auth))
    users = [user.user_id, leaving.user_id]
    for key in (*conversations, left_behind, *users):  # every partition the facts were on
        await handled(stack_settings, key, PERSIST)
    live = await rows(stack_settings.database_url, users)
    assert len(live["conversations"]) == 3  # the purged one and the deleted user's are gone
    assert [row[0] for row in live["preferences"]] == [UUID(user.user_id)]
    assert len(live["feedback"]) == 1
    statuses = sorted(row[7] for row in live["messages"] if row[4] == "assistant")  # role, status
    assert statuses == ["complete", "complete", "complete", "complete", "complete", "failed",
                        "stopped"]  # fmt: skip

    target = await fresh_database(stack_settings.database_url, f"chatfn_replay_{name}"[:60])
    topic = load_eventing(stack_settings.eventing_dir).topic
    replayed = await replay(target, stack_settings.kafka_bootstrap_servers, topic)

    assert await rows(target, users) == live
    for fact in ("conversation.created", "conversation.renamed", "conversation.pinned",
                 "conversation.archived", "conversation.trashed", "conversation.restored",
                 "conversation.purged", "message.sent", "reply.regenerated", "reply.completed",
                 "reply.failed", "conversation.titled", "feedback.given", "preferences.changed",
                 "user.deleted"):  # fmt: skip
        assert replayed.applied[f"io.chatfn.{fact}"] >= 1, fact
    with pytest.raises(NotEmpty):  # twice into one database would mix two histories
        await replay(target, stack_settings.kafka_bootstrap_servers, topic)
