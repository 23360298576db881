"""The `exports` function's work: build a user's export into S3, bring an uploaded file's
conversations in as facts, and sweep what has expired. It is the one writer of the
`exports` and `imports` tables.

An export's row is written when the function takes the command (pending), then marked
ready once its zip is in S3; until the function has taken it, `api` answers for it from
Redis (chatfn.api.export_endpoints). An import's conversations get ids derived from the
importing user and the source's own ids (`imported_id`), so importing the same file, or
another export holding the same conversations, again adds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from uuid import UUID, uuid5

from cloudevents.http import CloudEvent
from minio import Minio
from minio.error import S3Error
from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.attachments import files
from chatfn.chat.imports import facts
from chatfn.events.catalog import (
    ConversationArchived,
    ConversationPayload,
    ConversationPinned,
    ExportReady,
    ExportRequested,
    ImportCompleted,
    ImportedMessage,
    ImportRequested,
    fact_id,
    new_event,
)
from chatfn.events.emit import publish
from chatfn.exports import archive, reading, schema
from chatfn.exports.sources import Conversation as SourceConversation
from chatfn.exports.sources import Read, Unreadable, parents_first
from chatfn.models import Conversation, Export, Import, Message, MessageAttachment
from chatfn.runtime import Runtime

SOURCE = "chatfn/exports"
EXPORT_TTL = timedelta(days=7)
# An upload never imported, or a file never sent (the browser went away after S3 took
# it), is deleted after this; so are the files of purged conversations.
UPLOAD_TTL = timedelta(days=1)
# Conversations published at once: each one's facts go in order, on its own partition.
PUBLISHING = 8
_IDS = UUID("0f6f8f3e-52a7-4bd1-9d0e-6a4c1f0b9e27")  # imported conversations and messages
_EVENTS = UUID("8a7d5c1e-3b59-4f0a-a3c2-94d1e6b27f40")  # the facts of an import
Row = TypeVar("Row", Export, Import)


def export_prefix(user_id: UUID) -> str:
    return f"exports/{user_id}/"


def export_key(user_id: UUID, export_id: UUID) -> str:
    return f"{export_prefix(user_id)}{export_id}.zip"


def import_prefix(user_id: UUID) -> str:
    return f"imports/{user_id}/"


def imported_id(user_id: UUID, source: str, conversation: str, message: str, at: datetime) -> UUID:
    """The same id for the same user, source conversation and message, however often it is
    imported; shaped as a UUIDv7 of `at` so that it sorts by time among chatfn's own (the
    chat lists siblings and pages messages by id)."""
    digest = uuid5(_IDS, f"{user_id}\n{source}\n{conversation}\n{message}").int
    milliseconds = min(max(int(at.timestamp() * 1000), 0), 2**48 - 1)
    value = (milliseconds << 80) | (digest & ((1 << 80) - 1))
    return UUID(int=(value & ~(0xF << 76)) | (0x7 << 76))  # version 7; uuid5's variant stays


# --- export ---------------------------------------------------------------------------------


async def export(context: Runtime, command: ExportRequested) -> CloudEvent | None:
    """Build the export, or say again that it is ready (a redelivery)."""
    key = export_key(command.user_id, command.export_id)
    async with context.sessions() as db:
        row = await _taken(db, Export, command.user_id, command.export_id, object_key=key)
        if row.status != "pending":
            return _ready(command) if row.status == "ready" else None
        data = await gather(db, command.user_id)
    with tempfile.TemporaryFile() as file:
        archive.write(data, file)
        size = file.tell()
        file.seek(0)
        await asyncio.to_thread(context.s3.put_object, context.settings.s3_bucket, key, file,
                                size, content_type="application/zip")  # fmt: skip
    now = datetime.now(UTC)
    async with context.sessions() as db:
        await db.execute(
            update(Export)
            .where(Export.user_id == command.user_id, Export.id == command.export_id)
            .values(status="ready", ready_at=now, expires_at=now + EXPORT_TTL,
                    conversations=len(data.conversations), size_bytes=size)
        )  # fmt: skip
        await db.commit()
    return _ready(command)


def _ready(command: ExportRequested) -> CloudEvent:
    ready = ExportReady(user_id=command.user_id, export_id=command.export_id)
    return new_event(ready, source=SOURCE, event_id=fact_id(ExportReady, command.export_id))


async def gather(db: AsyncSession, user_id: UUID) -> schema.Export:
    """Every conversation the user keeps (not the trash's), with all their messages."""
    conversations = (await db.scalars(
        select(Conversation)
        .where(Conversation.user_id == user_id, Conversation.deleted_at.is_(None))
        .order_by(Conversation.created_at, Conversation.id)
    )).all()  # fmt: skip
    messages = (await db.scalars(
        select(Message).where(Message.user_id == user_id).order_by(Message.created_at, Message.id)
    )).all()  # fmt: skip
    by_conversation: dict[UUID, list[schema.ExportedMessage]] = {c.id: [] for c in conversations}
    for message in messages:
        if message.conversation_id in by_conversation:
            by_conversation[message.conversation_id].append(
                schema.ExportedMessage.model_validate(message, from_attributes=True)
            )
    return schema.Export(
        format=schema.FORMAT,
        version=schema.VERSION,
        exported_at=datetime.now(UTC),
        conversations=[
            schema.ExportedConversation(
                id=c.id, title=c.title, created_at=c.created_at, updated_at=c.updated_at,
                pinned=c.pinned, archived=c.archived,
                messages=parents_first(
                    by_conversation[c.id], lambda m: m.id, lambda m: m.parent_id
                ),
            )
            for c in conversations
        ],
    )  # fmt: skip


# --- import ---------------------------------------------------------------------------------


async def import_(context: Runtime, command: ImportRequested) -> CloudEvent | None:
    """Bring the uploaded file's conversations in, then delete the upload."""
    async with context.sessions() as db:
        row = await _taken(db, Import, command.user_id, command.import_id)
    if row.status != "pending":
        return None
    if not command.object_name.startswith(import_prefix(command.user_id)):
        # api never sends another user's key; an event that does touches nothing in S3.
        return await _finished(context, command, error="The upload is not yours.", upload=False)
    try:
        read = await _read_upload(context, command.object_name)
    except Unreadable as exc:
        return await _finished(context, command, error=str(exc))
    messages = await bring_in(context, command, read)
    return await _finished(context, command, read=read, messages=messages)


async def _read_upload(context: Runtime, object_name: str) -> Read:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        try:
            await asyncio.to_thread(context.s3.fget_object, context.settings.s3_bucket,
                                    object_name, str(path))  # fmt: skip
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise Unreadable("The uploaded file was not found; upload it again.") from exc
            raise
        return await asyncio.to_thread(reading.read, path)


async def bring_in(context: Runtime, command: ImportRequested, read: Read) -> int:
    """Publish each conversation's facts; how many messages they carry."""
    gate = asyncio.Semaphore(PUBLISHING)

    async def one(conversation: SourceConversation) -> int:
        async with gate:
            return await _publish_conversation(context, command, read.source, conversation)

    counts = await asyncio.gather(*(one(c) for c in read.conversations))
    return sum(counts)


async def _publish_conversation(
    context: Runtime, command: ImportRequested, source: str, conversation: SourceConversation
) -> int:
    user_id = command.user_id
    conversation_id = imported_id(user_id, source, conversation.key, "", conversation.created_at)
    ids: dict[str, UUID] = {}
    messages: list[ImportedMessage] = []
    for message in conversation.messages:
        ids[message.key] = imported_id(user_id, source, conversation.key, message.key,
                                       message.created_at)  # fmt: skip
        messages.append(ImportedMessage(
            id=ids[message.key], parent_id=ids.get(message.parent) if message.parent else None,
            role=message.role, content=message.content, model=message.model,
            created_at=message.created_at,
        ))  # fmt: skip
    payloads: list[ConversationPayload] = list(
        facts(user_id, conversation_id, conversation.title, conversation.created_at, messages)
    )
    if conversation.pinned:
        payloads.append(ConversationPinned(user_id=user_id, conversation_id=conversation_id,
                                           pinned=True))  # fmt: skip
    if conversation.archived:
        payloads.append(ConversationArchived(user_id=user_id, conversation_id=conversation_id,
                                             archived=True))  # fmt: skip
    for number, payload in enumerate(payloads):
        # A redelivered command publishes the same events again: persist_history skips them.
        event_id = str(uuid5(_EVENTS, f"{command.import_id}:{conversation_id}:{number}"))
        event = new_event(payload, source=SOURCE, event_id=event_id)
        await publish(event, context.settings.k_sink, context.http)
    return len(messages)


async def _finished(
    context: Runtime,
    command: ImportRequested,
    *,
    read: Read | None = None,
    messages: int = 0,
    error: str | None = None,
    upload: bool = True,
) -> CloudEvent:
    """Record the outcome, then delete the upload (if it is the user's)."""
    async with context.sessions() as db:
        await db.execute(
            update(Import)
            .where(Import.user_id == command.user_id, Import.id == command.import_id)
            .values(status="failed" if error else "done", error=error,
                    source=read.source if read else "",
                    conversations=len(read.conversations) if read else 0, messages=messages,
                    skipped=read.skipped if read else 0, finished_at=datetime.now(UTC))
        )  # fmt: skip
        await db.commit()
    if upload:
        await asyncio.to_thread(
            context.s3.remove_object, context.settings.s3_bucket, command.object_name
        )
    completed = ImportCompleted(
        user_id=command.user_id, import_id=command.import_id, succeeded=error is None,
        conversations=len(read.conversations) if read else 0, messages=messages,
    )  # fmt: skip
    return new_event(completed, source=SOURCE, event_id=fact_id(ImportCompleted, command.import_id))


async def _taken(
    db: AsyncSession, model: type[Row], user_id: UUID, row_id: UUID, **values: str
) -> Row:
    """The job's row, created pending by the first delivery of its command."""
    await db.execute(
        insert(model).values(user_id=user_id, id=row_id, **values).on_conflict_do_nothing()
    )
    await db.commit()
    row = await db.get(model, (user_id, row_id), populate_existing=True)
    assert row is not None
    return row


# --- sweep ----------------------------------------------------------------------------------


async def sweep(context: Runtime) -> None:
    """Delete the exports past their expiry, the uploads never imported and the files no
    message holds."""
    now = datetime.now(UTC)
    client, bucket = context.s3, context.settings.s3_bucket
    async with context.sessions() as db:
        expired = (await db.execute(
            select(Export.user_id, Export.id, Export.object_key)
            .where(Export.status == "ready", Export.expires_at < now)
        )).all()  # fmt: skip
    for user_id, export_id, object_key in expired:
        await asyncio.to_thread(client.remove_object, bucket, object_key)
        async with context.sessions() as db:
            await db.execute(
                update(Export)
                .where(Export.user_id == user_id, Export.id == export_id)
                .values(status="expired")
            )
            await db.commit()
    for name in await _older(client, bucket, "imports/", now - UPLOAD_TTL):
        await asyncio.to_thread(client.remove_object, bucket, name)
    await _sweep_attachments(context, await _older(client, bucket, files.PREFIX, now - UPLOAD_TTL))


async def _older(client: Minio, bucket: str, prefix: str, than: datetime) -> list[str]:
    """The objects under `prefix` last written before `than`."""
    found = await asyncio.to_thread(
        lambda: list(client.list_objects(bucket, prefix=prefix, recursive=True))
    )
    return [
        o.object_name for o in found if o.object_name and o.last_modified and o.last_modified < than
    ]


async def _sweep_attachments(context: Runtime, names: list[str]) -> None:
    """Delete the files no message holds: uploads never sent, and the files of purged
    conversations (whose rows went with their messages)."""
    keyed = {}
    for name in names:
        user, _, attachment = name.removeprefix(files.PREFIX).partition("/")
        with contextlib.suppress(ValueError):
            keyed[UUID(user), UUID(attachment)] = name
    async with context.sessions() as db:
        kept = set((await db.execute(
            select(MessageAttachment.user_id, MessageAttachment.id)
            .where(tuple_(MessageAttachment.user_id, MessageAttachment.id).in_(list(keyed)))
        )).all()) if keyed else set()  # fmt: skip
    for pair, name in keyed.items():
        if pair not in kept:
            await asyncio.to_thread(context.s3.remove_object, context.settings.s3_bucket, name)


async def forget(context: Runtime, user_id: UUID) -> None:
    """A deleted account's exports, uploads and attachments, and its jobs' rows."""
    client, bucket = context.s3, context.settings.s3_bucket

    def listed(prefix: str) -> list[str]:
        found = client.list_objects(bucket, prefix=prefix, recursive=True)
        return [item.object_name for item in found if item.object_name]

    for prefix in (export_prefix(user_id), import_prefix(user_id), files.user_prefix(user_id)):
        for name in await asyncio.to_thread(listed, prefix):
            await asyncio.to_thread(client.remove_object, bucket, name)
    async with context.sessions.begin() as db:
        await db.execute(delete(Export).where(Export.user_id == user_id))
        await db.execute(delete(Import).where(Import.user_id == user_id))
