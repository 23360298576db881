"""processed events: the idempotency ledger of every event consumer

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:02:54.634688
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=256), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source", "id"),
    )


def downgrade() -> None:
    op.drop_table("processed_events")
