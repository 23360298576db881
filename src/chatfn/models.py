"""The PostgreSQL tables (SQLAlchemy 2 declarative)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from chatfn.db import Base


class ProcessedEvent(Base):
    """A CloudEvent a consumer has handled, written in the same transaction as its effects.

    CloudEvents makes (`source`, `id`) unique per event, so a redelivery finds its row.
    """

    __tablename__ = "processed_events"

    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
