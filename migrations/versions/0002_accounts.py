"""accounts and conversations: users, sessions, the message tree

On a Citus cluster (the `citus` extension installed) the tables are distributed:
tenant tables by `user_id`, colocated with `users` so every join stays on one node,
and the lookup tables by the column they are looked up by. On plain PostgreSQL
that step does nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:28:58.798730
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from chatfn.db import distribute_on_citus

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_emails",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "user_identities",
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "subject"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="user", nullable=False),
        sa.Column(
            "preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "conversations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("pinned", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_index(
        "conversations_by_recency", "conversations", ["user_id", "updated_at"], unique=False
    )
    op.create_table(
        "refresh_token_families",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_agent", sa.String(length=256), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_table(
        "messages",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), server_default="", nullable=False),
        sa.Column("model", sa.String(length=200), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="complete", nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id", "conversation_id"],
            ["conversations.user_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id", "parent_id"],
            ["messages.user_id", "messages.id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_index(
        "messages_by_conversation",
        "messages",
        ["user_id", "conversation_id", "created_at"],
        unique=False,
    )
    op.create_index("messages_by_parent", "messages", ["user_id", "parent_id"], unique=False)
    op.create_table(
        "refresh_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id", "family_id"],
            ["refresh_token_families.user_id", "refresh_token_families.id"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "token_hash"),
    )
    _distribute_on_citus()


# Referenced tables first: Citus needs a foreign key's target distributed before it.
DISTRIBUTION = (
    ("users", "id", "none"),
    ("conversations", "user_id", "users"),
    ("refresh_token_families", "user_id", "users"),
    ("messages", "user_id", "users"),
    ("refresh_tokens", "user_id", "users"),
    ("user_emails", "email", "default"),
    ("user_identities", "subject", "default"),
    ("processed_events", "id", "default"),
)


def _distribute_on_citus() -> None:
    for table, column, colocate_with in DISTRIBUTION:
        distribute_on_citus(op.get_bind(), table, column, colocate_with=colocate_with)


def downgrade() -> None:
    op.drop_table("refresh_tokens")
    op.drop_index("messages_by_parent", table_name="messages")
    op.drop_index("messages_by_conversation", table_name="messages")
    op.drop_table("messages")
    op.drop_table("refresh_token_families")
    op.drop_index("conversations_by_recency", table_name="conversations")
    op.drop_table("conversations")
    op.drop_table("users")
    op.drop_table("user_identities")
    op.drop_table("user_emails")
