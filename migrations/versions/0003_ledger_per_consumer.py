"""the idempotency ledger is per consumer

Two functions that consume the same event (persist_history and titles both take
`reply.completed`) each record it; keyed by (source, id) alone, the first one's record
hid the event from the other. Rows from before this revision keep an empty consumer:
they can only make a consumer skip an event it has already handled.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:22:31.444079
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "processed_events",
        sa.Column("consumer", sa.String(length=128), nullable=False, server_default=""),
    )
    op.alter_column("processed_events", "consumer", server_default=None)
    op.drop_constraint("processed_events_pkey", "processed_events", type_="primary")
    op.create_primary_key("processed_events_pkey", "processed_events", ["consumer", "source", "id"])


def downgrade() -> None:
    op.drop_constraint("processed_events_pkey", "processed_events", type_="primary")
    op.execute("DELETE FROM processed_events WHERE consumer <> ''")
    op.create_primary_key("processed_events_pkey", "processed_events", ["source", "id"])
    op.drop_column("processed_events", "consumer")
