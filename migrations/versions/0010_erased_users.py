"""erased users: the projection's tombstone of every deleted account

A fact of a deleted user that arrives after the deletion (it travelled on another
partition) is ignored instead of bringing rows back.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatfn.db import distribute_on_citus

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_users",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    distribute_on_citus(op.get_bind(), "erased_users", "user_id", colocate_with="users")


def downgrade() -> None:
    op.drop_table("erased_users")
