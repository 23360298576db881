"""Bringing a whole conversation in as facts: `io.chatfn.conversation.imported`, in batches
that each fit a Kafka record (an import, a shared conversation continued)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from uuid import UUID

from chatfn.events.catalog import IMPORT_BATCH, ConversationImported, ImportedMessage

# Under the 1 MiB a Kafka broker takes per record by default (message.max.bytes), with room
# for the envelope: a batch is cut once its messages' text reaches this.
BATCH_BYTES = 512 * 1024


def facts(
    user_id: UUID,
    conversation_id: UUID,
    title: str,
    created_at: datetime,
    messages: Sequence[ImportedMessage],
) -> Iterator[ConversationImported]:
    """The facts that bring the conversation in, parents before children (`messages` must
    be in that order); at least one, so an empty conversation is created too."""
    about = {"user_id": user_id, "conversation_id": conversation_id, "title": title,
             "created_at": created_at}  # fmt: skip
    batch: list[ImportedMessage] = []
    size = 0
    for message in messages:
        length = len(message.content.encode())
        if batch and (len(batch) == IMPORT_BATCH or size + length > BATCH_BYTES):
            yield ConversationImported(**about, messages=batch)
            batch, size = [], 0
        batch.append(message)
        size += length
    if batch or not messages:
        yield ConversationImported(**about, messages=batch)
