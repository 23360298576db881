"""The chat tables' (and daily usage's) one writer: each chat fact applied to PostgreSQL
(`persist_history`).

Every write is keyed by ids the fact carries and stamped with the event's own `time`,
never the clock's, so applying a fact twice, or replaying the whole topic into an empty
database (`chatfn replay`), gives the same rows. An edit is a `message.sent` whose parent
already has a child; a stopped reply is a `reply.completed` with `finish_reason: stopped`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args
from uuid import UUID

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.events.catalog import (
    CompletionAccepted,
    CompletionFinished,
    ConversationArchived,
    ConversationCreated,
    ConversationImported,
    ConversationPinned,
    ConversationPurged,
    ConversationRenamed,
    ConversationRestored,
    ConversationTitled,
    ConversationTrashed,
    FeedbackGiven,
    MalformedEvent,
    MessageSent,
    PreferencesChanged,
    ReceivedEvent,
    ReplyCompleted,
    ReplyFailed,
    ReplyRegenerated,
    UserDeleted,
)
from chatfn.models import (
    Conversation,
    DailyUsage,
    ErasedUser,
    Feedback,
    Message,
    MessageAttachment,
    Preferences,
)

# The usage of the app's own replies, which no API key asked for.
APP = UUID(int=0)

Projected = (
    MessageSent | ReplyRegenerated | ReplyCompleted | ReplyFailed | ConversationTitled
    | CompletionAccepted | CompletionFinished | ConversationImported
    | ConversationCreated | ConversationRenamed | ConversationPinned | ConversationArchived
    | ConversationTrashed | ConversationRestored | ConversationPurged | FeedbackGiven
    | PreferencesChanged | UserDeleted
)  # fmt: skip
PROJECTED: tuple[type[Projected], ...] = get_args(Projected)


def event_time(received: ReceivedEvent[Any]) -> datetime:
    """When the fact happened: the CloudEvent's `time`, which every chatfn event carries."""
    try:
        return datetime.fromisoformat(str(received.event["time"]))
    except (KeyError, ValueError):
        raise MalformedEvent("a chat fact needs its `time` (RFC 3339)") from None


async def apply(db: AsyncSession, received: ReceivedEvent[Projected]) -> None:
    at = event_time(received)
    if await db.get(ErasedUser, received.payload.user_id) is not None:
        return  # a late fact of a deleted account (its deletion came on another partition)
    match received.payload:
        case MessageSent() as sent:
            await _sent(db, sent, at)
        case ReplyRegenerated() as regenerated:
            await _regenerated(db, regenerated, at)
        case ReplyCompleted() | ReplyFailed() as finished:
            await _finished(db, finished, at)
        case CompletionAccepted(store=True) as accepted:
            await _completion(db, accepted, at)
        case CompletionAccepted():
            pass  # kept nowhere: its messages never left Redis
        case CompletionFinished() as finished:
            await _used(db, finished, at, finished.key_id or APP)
        case ConversationTitled() as titled:
            await _titled(db, titled)
        case ConversationCreated() as created:
            await _created(db, created, at)
        case ConversationImported() as imported:
            await _imported(db, imported)
        case ConversationRenamed(title=title) as fact:
            await _set(db, fact, title=title)
        case ConversationPinned(pinned=pinned) as fact:
            await _set(db, fact, pinned=pinned)
        case ConversationArchived(archived=archived) as fact:
            await _set(db, fact, archived=archived)
        case ConversationTrashed() as fact:
            await _set(db, fact, deleted_at=at)
        case ConversationRestored() as fact:
            await _set(db, fact, deleted_at=None)
        case ConversationPurged() as purged:
            # Its messages and their feedback go with it (foreign keys, ON DELETE CASCADE).
            await db.execute(
                delete(Conversation).where(
                    Conversation.user_id == purged.user_id,
                    Conversation.id == purged.conversation_id,
                )
            )
        case FeedbackGiven() as given:
            await _feedback(db, given, at)
        case PreferencesChanged() as changed:
            await _preferences(db, changed, at)
        case UserDeleted(user_id=user_id):
            for table in (Conversation, Preferences, DailyUsage):
                await db.execute(delete(table).where(table.user_id == user_id))
            await db.execute(insert(ErasedUser).values(user_id=user_id, erased_at=at)
                             .on_conflict_do_nothing())  # fmt: skip


async def _created(db: AsyncSession, created: ConversationCreated, at: datetime) -> None:
    row = {"user_id": created.user_id, "id": created.conversation_id, "title": created.title}
    await db.execute(
        insert(Conversation)
        .values(**row, created_at=at, updated_at=at)
        .on_conflict_do_nothing(index_elements=["user_id", "id"])
    )


async def _sent(db: AsyncSession, sent: MessageSent, at: datetime) -> None:
    """The conversation (created on its first message if it was not yet), the user's
    message and its pending reply."""
    await db.execute(
        insert(Conversation)
        .values(user_id=sent.user_id, id=sent.conversation_id, created_at=at, updated_at=at)
        .on_conflict_do_update(index_elements=["user_id", "id"], set_={"updated_at": at})
    )
    question = _message_row(sent, sent.message_id, sent.parent_id, at, role="user",
                            content=sent.content, status="complete")  # fmt: skip
    reply = _message_row(sent, sent.reply_id, sent.message_id, at, role="assistant",
                         status="streaming")  # fmt: skip
    await db.execute(
        insert(Message)
        .values([question, reply])
        .on_conflict_do_nothing(index_elements=["user_id", "id"])
    )
    if sent.attachments:
        files = [
            {"user_id": sent.user_id, "message_id": sent.message_id, "position": position,
             **attached.model_dump()}
            for position, attached in enumerate(sent.attachments)
        ]  # fmt: skip
        await db.execute(
            insert(MessageAttachment)
            .values(files)
            .on_conflict_do_nothing(index_elements=["user_id", "message_id", "id"])
        )


async def _regenerated(db: AsyncSession, regenerated: ReplyRegenerated, at: datetime) -> None:
    reply = _message_row(regenerated, regenerated.reply_id, regenerated.message_id, at,
                         role="assistant", status="streaming")  # fmt: skip
    await db.execute(
        insert(Message).values(reply).on_conflict_do_nothing(index_elements=["user_id", "id"])
    )
    await _touch(db, regenerated.user_id, regenerated.conversation_id, at)


async def _completion(db: AsyncSession, accepted: CompletionAccepted, at: datetime) -> None:
    """A completion kept as a conversation: the request's messages in order, each the
    parent of the next, then its pending reply."""
    ids = {"user_id": accepted.user_id, "conversation_id": accepted.conversation_id}
    await _created(db, ConversationCreated(**ids), at)
    rows, parent_id = [], None
    for turn in accepted.messages or ():
        rows.append(_message_row(accepted, turn.id, parent_id, at, role=turn.role,
                                 content=turn.content, status="complete"))  # fmt: skip
        parent_id = turn.id
    rows.append(_message_row(accepted, accepted.reply_id, parent_id, at, role="assistant",
                             status="streaming"))  # fmt: skip
    await db.execute(
        insert(Message).values(rows).on_conflict_do_nothing(index_elements=["user_id", "id"])
    )


async def _imported(db: AsyncSession, imported: ConversationImported) -> None:
    """A conversation brought in whole: created as it was (its own time and title) on its
    first batch, then each batch's messages with their own times. It was last updated when
    its latest message was written, not when it was imported: the history lists it among
    the days it belongs to."""
    latest = max((m.created_at for m in imported.messages), default=imported.created_at)
    await db.execute(
        insert(Conversation)
        .values(user_id=imported.user_id, id=imported.conversation_id, title=imported.title,
                created_at=imported.created_at, updated_at=latest)
        .on_conflict_do_update(index_elements=["user_id", "id"],
                               set_={"updated_at": func.greatest(Conversation.updated_at, latest)})
    )  # fmt: skip
    if not imported.messages:
        return
    rows = [
        {"user_id": imported.user_id, "id": message.id, "conversation_id": imported.conversation_id,
         "parent_id": message.parent_id, "role": message.role, "content": message.content,
         "model": message.model, "status": "complete", "created_at": message.created_at}
        for message in imported.messages
    ]  # fmt: skip
    await db.execute(
        insert(Message).values(rows).on_conflict_do_nothing(index_elements=["user_id", "id"])
    )


def _message_row(
    fact: MessageSent | ReplyRegenerated | CompletionAccepted,
    message_id: UUID,
    parent_id: UUID | None,
    at: datetime,
    *,
    role: str,
    status: str,
    content: str = "",
) -> dict[str, object]:
    """A message of the conversation `fact` is about, with every column an insert sets (the
    rows of one multi-row insert must name the same columns)."""
    return {
        "user_id": fact.user_id,
        "id": message_id,
        "conversation_id": fact.conversation_id,
        "parent_id": parent_id,
        "role": role,
        "content": content,
        "model": fact.model,
        "status": status,
        "created_at": at,
    }


async def _finished(db: AsyncSession, finished: ReplyCompleted | ReplyFailed, at: datetime) -> None:
    """A reply's final text, status and token counts."""
    if isinstance(finished, ReplyCompleted):
        status = "stopped" if finished.finish_reason == "stopped" else "complete"
        tokens = {
            "prompt_tokens": finished.prompt_tokens,
            "completion_tokens": finished.completion_tokens,
        }
        await _used(db, finished, at, finished.key_id or APP)
    else:
        status, tokens = "failed", {}
    await db.execute(
        update(Message)
        .where(Message.user_id == finished.user_id, Message.id == finished.reply_id)
        .values(content=finished.content, status=status, **tokens)
    )
    await _touch(db, finished.user_id, finished.conversation_id, at)


async def _titled(db: AsyncSession, titled: ConversationTitled) -> None:
    """A generated title, unless the user has named the conversation meanwhile."""
    await db.execute(
        update(Conversation)
        .where(
            Conversation.user_id == titled.user_id,
            Conversation.id == titled.conversation_id,
            Conversation.title == "",
        )
        .values(title=titled.title)
    )


async def _set(
    db: AsyncSession,
    fact: ConversationRenamed | ConversationPinned | ConversationArchived
    | ConversationTrashed | ConversationRestored,
    **values: object,
) -> None:  # fmt: skip
    await db.execute(
        update(Conversation)
        .where(Conversation.user_id == fact.user_id, Conversation.id == fact.conversation_id)
        .values(**values)
    )


async def _touch(db: AsyncSession, user_id: UUID, conversation_id: UUID, at: datetime) -> None:
    await db.execute(
        update(Conversation)
        .where(Conversation.user_id == user_id, Conversation.id == conversation_id)
        .values(updated_at=at)
    )


async def _feedback(db: AsyncSession, given: FeedbackGiven, at: datetime) -> None:
    values = {"rating": given.rating, "comment": given.comment}
    await db.execute(
        insert(Feedback)
        .values(user_id=given.user_id, message_id=given.message_id, created_at=at, **values)
        .on_conflict_do_update(index_elements=["user_id", "message_id"], set_=values)
    )


async def _preferences(db: AsyncSession, changed: PreferencesChanged, at: datetime) -> None:
    """Merged into what was set before (`jsonb ||`): a change names only what changed."""
    changes = changed.model_dump(exclude={"user_id"}, exclude_none=True)
    statement = insert(Preferences).values(user_id=changed.user_id, values=changes, updated_at=at)
    merged = Preferences.values.op("||")(statement.excluded["values"])
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"], set_={"values": merged, "updated_at": at}
        )
    )


async def _used(
    db: AsyncSession, finished: ReplyCompleted | CompletionFinished, at: datetime, key_id: UUID
) -> None:
    """Count a reply's tokens on the UTC day it ended; the ledger makes it once."""
    tokens = {"prompt_tokens": finished.prompt_tokens,
              "completion_tokens": finished.completion_tokens}  # fmt: skip
    statement = insert(DailyUsage).values(user_id=finished.user_id, day=at.astimezone(UTC).date(),
                                          key_id=key_id, requests=1, **tokens)  # fmt: skip
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "day", "key_id"],
            set_={
                column: getattr(DailyUsage, column) + statement.excluded[column]
                for column in ("requests", *tokens)
            },
        )
    )
