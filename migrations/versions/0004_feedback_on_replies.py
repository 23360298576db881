"""feedback on replies

A tenant table like the others: on Citus it is distributed by `user_id`, colocated
with `users`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:52:26.575349
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatfn.db import distribute_on_citus

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id", "message_id"], ["messages.user_id", "messages.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "message_id"),
    )
    distribute_on_citus(op.get_bind(), "feedback", "user_id", colocate_with="users")


def downgrade() -> None:
    op.drop_table("feedback")
