"""Small factories for events in tests."""

from __future__ import annotations

from uuid import uuid4

from chatfn.events.catalog import MessageSendRequested


def send_requested(content: str = "Hello there") -> MessageSendRequested:
    return MessageSendRequested(
        user_id=uuid4(),
        conversation_id=uuid4(),
        message_id=uuid4(),
        reply_id=uuid4(),
        content=content,
    )
