"""What integrations hear: the public facts, and the signed body each becomes.

A body documents itself: `{"type", "version", "id", "timestamp", "data"}`, where `data` is
the fact's payload as the event catalog defines it at `version`, and
`GET /api/webhooks/event-types` serves each type's JSON Schema. `id` is also the
`webhook-id` header: the same for every attempt and every resend of one event, so a
receiver can skip what it already has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from chatfn.events.catalog import (
    ConversationCreated,
    ConversationPurged,
    ConversationRestored,
    ConversationTitled,
    ConversationTrashed,
    FeedbackGiven,
    MessageSent,
    Payload,
    ReplyCompleted,
    ReplyFailed,
)


class WebhookTested(BaseModel):
    """Sent by "Send test" in Settings, to this endpoint only."""

    endpoint_id: UUID
    message: str = "A test from chatfn: this endpoint receives what it subscribed to."


@dataclass(frozen=True)
class PublicFact:
    data: type[BaseModel]
    description: str
    version: int = 1


TESTED = "io.chatfn.webhook.tested"
PUBLIC: dict[str, PublicFact] = {
    fact.event_type: PublicFact(fact, description, fact.version)
    for fact, description in (
        (MessageSent, "A user sent a message (an edit too: a message whose parent had one)"),
        (ReplyCompleted, "A reply was written to its end, or stopped by the user"),
        (ReplyFailed, "The model could not answer; what it had written is kept"),
        (ConversationCreated, "A conversation was started"),
        (ConversationTitled, "A conversation got its generated title"),
        (ConversationTrashed, "A conversation was moved to the trash"),
        (ConversationRestored, "A conversation came back from the trash"),
        (ConversationPurged, "A conversation was deleted for good"),
        (FeedbackGiven, "A user rated a reply"),
    )
} | {TESTED: PublicFact(WebhookTested, "A test sent from Settings, to one endpoint")}
PUBLIC_FACTS: tuple[type[Payload], ...] = tuple(
    fact.data for fact in PUBLIC.values() if issubclass(fact.data, Payload)
)


def body(event_type: str, event_id: str, at: datetime | str, data: dict[str, Any]) -> str:
    """The JSON every attempt of this event sends, byte for byte (it is what is signed)."""
    timestamp = at if isinstance(at, str) else at.isoformat()
    envelope = {"type": event_type, "version": PUBLIC[event_type].version, "id": event_id,
                "timestamp": timestamp, "data": data}  # fmt: skip
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def schema(event_type: str) -> dict[str, Any]:
    return PUBLIC[event_type].data.model_json_schema()
