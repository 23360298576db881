"""the chat tables are a projection of the event log

Preferences move out of `users` into a table of their own, written by `persist_history`
from `io.chatfn.preferences.changed`; `conversations` loses its foreign key to `users`,
so the chat tables can be rebuilt by `chatfn replay` into a database that holds no
accounts (an account's deletion reaches them as the `io.chatfn.user.deleted` fact).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from chatfn.db import distribute_on_citus

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("values", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id"),
    )
    distribute_on_citus(op.get_bind(), "preferences", "user_id", colocate_with="users")
    op.execute(
        "INSERT INTO preferences (user_id, values) "
        "SELECT id, preferences FROM users WHERE preferences <> '{}'::jsonb"
    )
    op.drop_column("users", "preferences")
    op.drop_constraint("conversations_user_id_fkey", "conversations", type_="foreignkey")


def downgrade() -> None:
    op.add_column(
        "users",
        sa.Column("preferences", postgresql.JSONB(), server_default="{}", nullable=False),
    )
    op.execute(
        "UPDATE users SET preferences = p.values FROM preferences p WHERE p.user_id = users.id"
    )
    op.execute("DELETE FROM conversations c WHERE NOT EXISTS "
               "(SELECT 1 FROM users u WHERE u.id = c.user_id)")  # fmt: skip
    op.create_foreign_key(
        "conversations_user_id_fkey", "conversations", "users", ["user_id"], ["id"],
        ondelete="CASCADE",
    )  # fmt: skip
    op.drop_table("preferences")
