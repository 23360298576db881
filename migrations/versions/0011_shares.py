"""shares: read-only snapshots of a conversation's branch behind an unguessable link

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from chatfn.db import distribute_on_citus

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("up_to_message_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    # Not unique: Citus keeps unique indexes to those holding the distribution column, and
    # 256 random bits do not collide.
    op.create_index("shares_by_token", "shares", ["token"])
    distribute_on_citus(op.get_bind(), "shares", "user_id", colocate_with="users")


def downgrade() -> None:
    op.drop_index("shares_by_token", table_name="shares")
    op.drop_table("shares")
