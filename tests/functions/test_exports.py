"""exports built from functions/exports.py, against the stack's PostgreSQL and S3; the facts
an import publishes go to a receiver standing in for the broker (K_SINK)."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cloudevents.http import from_http
from sqlalchemy import select
from uuid6 import uuid7

from chatfn import runtime
from chatfn.events.catalog import (
    ConversationCreated,
    ConversationImported,
    ConversationTrashed,
    ExportReady,
    ExportRequested,
    ImportedMessage,
    ImportRequested,
    PingTick,
    UserDeleted,
    fact_id,
    new_event,
)
from chatfn.exports import schema
from chatfn.exports.jobs import export_key, import_prefix
from chatfn.models import Export, Import
from chatfn.settings import Settings
from tests.utils.functions import a_user, deliver, function_client, reply_of
from tests.utils.projection import project
from tests.utils.receivers import ALLOWED, Receiver, receiving

CHATGPT = Path(__file__).resolve().parents[1] / "fixtures" / "chatgpt" / "conversations.json"
AT = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
TRASH_SWEEP = "/apis/v1/namespaces/chatfn/pingsources/trash-sweep"


@pytest.fixture
async def broker(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Receiver]:
    """What the function publishes to K_SINK."""
    async with receiving(ALLOWED) as receiver:
        monkeypatch.setenv("K_SINK", receiver.url)
        yield receiver


def published(receiver: Receiver) -> list[dict[str, Any]]:
    events = [from_http(dict(seen.headers), seen.body) for seen in receiver.seen]
    return [{"id": e["id"], "type": e["type"], **e.data} for e in events]


async def put(key: str, body: bytes) -> None:
    context = runtime.current()
    await asyncio.to_thread(context.s3.put_object, context.settings.s3_bucket, key,
                            io.BytesIO(body), len(body))  # fmt: skip


async def fetched(key: str) -> bytes | None:
    context = runtime.current()

    def get() -> bytes | None:
        try:
            response = context.s3.get_object(context.settings.s3_bucket, key)
        except Exception:
            return None
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    return await asyncio.to_thread(get)


async def row(model: type[Export] | type[Import], user_id: UUID, row_id: UUID) -> Any:
    async with runtime.current().sessions() as db:
        return await db.get(model, (user_id, row_id))


async def test_an_export_is_a_zip_in_s3_of_the_conversations_kept_with_every_branch(
    function_env: Settings,
) -> None:
    user_id, kept, trashed = await a_user(), uuid7(), uuid7()
    question = ImportedMessage(id=uuid7(), parent_id=None, role="user", content="Hi?",
                               created_at=AT)  # fmt: skip
    answers = [
        ImportedMessage(
            id=uuid7(),
            parent_id=question.id,
            role="assistant",
            content=text,
            model="scripted",
            created_at=AT + timedelta(seconds=n),
        )
        for n, text in enumerate(["Hello.", "Hello there."], start=1)
    ]
    await project(
        ConversationImported(user_id=user_id, conversation_id=kept, title="Greetings",
                             created_at=AT, messages=[question, *answers]),
        ConversationCreated(user_id=user_id, conversation_id=trashed, title="Old"),
        ConversationTrashed(user_id=user_id, conversation_id=trashed),
    )  # fmt: skip
    command = ExportRequested(user_id=user_id, export_id=uuid7())

    async with function_client("exports") as client:
        ready = reply_of(await deliver(client, new_event(command, source="chatfn/api")))
        exported = await row(Export, user_id, command.export_id)
        again = reply_of(await deliver(client, new_event(command, source="chatfn/api")))

    zipped = await fetched(export_key(user_id, command.export_id))
    assert zipped is not None
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        document = schema.Export.model_validate_json(archive.read("conversations.json"))
        names = archive.namelist()
    assert ready["type"] == "io.chatfn.export.ready"
    assert ready["id"] == again["id"] == fact_id(ExportReady, command.export_id)
    assert ready.data == {"user_id": str(user_id), "export_id": str(command.export_id)}
    assert [c.id for c in document.conversations] == [kept]
    [conversation] = document.conversations
    assert [(m.id, m.parent_id, m.content) for m in conversation.messages] == [
        (question.id, None, "Hi?"),
        *((a.id, question.id, a.content) for a in answers),
    ]
    assert any(name.endswith("-greetings-" + kept.hex[:8] + ".md") for name in names)
    assert (exported.status, exported.conversations, exported.size_bytes) == (
        "ready", 1, len(zipped),
    )  # fmt: skip
    assert exported.expires_at - exported.ready_at == timedelta(days=7)
    assert (await row(Export, user_id, command.export_id)).ready_at == exported.ready_at


async def test_an_import_publishes_the_same_facts_each_time_and_deletes_the_upload(
    broker: Receiver,
) -> None:
    user_id = await a_user()
    first, second = (
        ImportRequested(
            user_id=user_id, import_id=(i := uuid7()), object_name=f"{import_prefix(user_id)}{i}"
        )
        for _ in range(2)
    )

    async with function_client("exports") as client:
        outcomes = []
        for command in (first, second):
            await put(command.object_name, CHATGPT.read_bytes())
            outcomes.append(
                reply_of(await deliver(client, new_event(command, source="chatfn/api")))
            )
            assert await fetched(command.object_name) is None
            # Redelivered: the job is done, nothing is published again.
            assert (
                await deliver(client, new_event(command, source="chatfn/api"))
            ).status_code == 202

    facts = published(broker)
    imported = [f for f in facts if f["type"] == "io.chatfn.conversation.imported"]
    assert len(imported) == 2 * 3
    once, twice = imported[:3], imported[3:]
    assert [f["conversation_id"] for f in once] == [f["conversation_id"] for f in twice]
    assert [f["messages"] for f in once] == [f["messages"] for f in twice]
    assert [f["title"] for f in once] == [
        "Sourdough starter smells like acetone", "Counting tomatoes in a photo",
        "Bonne nuit en japonais",
    ]  # fmt: skip
    assert [len(f["messages"]) for f in once] == [7, 2, 2]
    archived = [f for f in facts if f["type"] == "io.chatfn.conversation.archived"]
    assert [f["conversation_id"] for f in archived] == [once[2]["conversation_id"]] * 2
    for outcome, command in zip(outcomes, (first, second), strict=True):
        assert outcome["type"] == "io.chatfn.import.completed"
        assert outcome.data == {"user_id": str(user_id), "import_id": str(command.import_id),
                                "succeeded": True, "conversations": 3, "messages": 11}  # fmt: skip
        done = await row(Import, user_id, command.import_id)
        assert (done.status, done.source, done.conversations, done.messages, done.skipped) == (
            "done", "chatgpt", 3, 11, 7,
        )  # fmt: skip


async def test_an_unreadable_upload_or_anothers_fails_with_a_reason(broker: Receiver) -> None:
    user_id, other = await a_user(), await a_user()
    garbled = ImportRequested(user_id=user_id, import_id=(i := uuid7()),
                              object_name=f"{import_prefix(user_id)}{i}")  # fmt: skip
    theirs = f"{import_prefix(other)}{uuid7()}"
    stolen = ImportRequested(user_id=user_id, import_id=uuid7(), object_name=theirs)
    await put(garbled.object_name, b"not an export at all")
    await put(theirs, json.dumps([]).encode())

    async with function_client("exports") as client:
        for command in (garbled, stolen):
            completed = reply_of(await deliver(client, new_event(command, source="chatfn/api")))
            assert completed.data["succeeded"] is False

    assert (await row(Import, user_id, garbled.import_id)).error == (
        "The file could not be read (JSONDecodeError)."
    )
    assert (await row(Import, user_id, stolen.import_id)).error == "The upload is not yours."
    assert await fetched(theirs) is not None
    assert published(broker) == []


async def test_the_daily_tick_deletes_the_exports_past_their_time(function_env: Settings) -> None:
    user_id, now = await a_user(), datetime.now(UTC)
    old, fresh = uuid7(), uuid7()
    for export_id, expires_at in (
        (old, now - timedelta(minutes=1)),
        (fresh, now + timedelta(days=1)),
    ):
        await put(export_key(user_id, export_id), b"PK")
        async with runtime.current().sessions.begin() as db:
            db.add(Export(user_id=user_id, id=export_id, status="ready",
                          object_key=export_key(user_id, export_id), ready_at=now,
                          expires_at=expires_at))  # fmt: skip
    tick = new_event(
        PingTick(sweep="trash"), source="/apis/v1/namespaces/chatfn/pingsources/trash-sweep"
    )

    async with function_client("exports") as client:
        assert (await deliver(client, tick)).status_code == 202

    assert (await row(Export, user_id, old)).status == "expired"
    assert await fetched(export_key(user_id, old)) is None
    assert (await row(Export, user_id, fresh)).status == "ready"
    assert await fetched(export_key(user_id, fresh)) == b"PK"


async def test_a_deleted_accounts_exports_uploads_and_jobs_go_with_it(
    function_env: Settings,
) -> None:
    user_id, other = await a_user(), await a_user()
    mine, theirs = export_key(user_id, uuid7()), export_key(other, uuid7())
    upload = f"{import_prefix(user_id)}{uuid7()}"
    for key in (mine, theirs, upload):
        await put(key, b"PK")
    async with runtime.current().sessions.begin() as db:
        db.add(Export(user_id=user_id, id=uuid7(), status="ready", object_key=mine))
        db.add(Import(user_id=user_id, id=uuid7(), status="done"))
        db.add(Export(user_id=other, id=uuid7(), status="ready", object_key=theirs))

    async with function_client("exports") as client:
        deleted = new_event(UserDeleted(user_id=user_id), source="chatfn/api")
        assert (await deliver(client, deleted)).status_code == 202

    assert [await fetched(key) for key in (mine, upload, theirs)] == [None, None, b"PK"]
    async with runtime.current().sessions() as db:
        left = (await db.execute(select(Export.user_id).union_all(select(Import.user_id)))).all()
    assert (user_id,) not in left
    assert (other,) in left
