"""api keys, and tokens spent per user, day and key

`daily_usage` starts from what the messages hold (the app's replies so far), so a budget
half spent today stays half spent across the upgrade.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from chatfn.db import distribute_on_citus

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("hint", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("store", sa.Boolean(), nullable=False),
        sa.Column("daily_token_budget", sa.Integer(), nullable=True),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_index("api_keys_by_digest", "api_keys", ["digest"])
    distribute_on_citus(op.get_bind(), "api_keys", "user_id", colocate_with="users")
    op.create_table(
        "daily_usage",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", "key_id"),
    )
    distribute_on_citus(op.get_bind(), "daily_usage", "user_id", colocate_with="users")
    op.execute(
        """
        INSERT INTO daily_usage (user_id, day, key_id, requests, prompt_tokens, completion_tokens)
        SELECT user_id, (created_at AT TIME ZONE 'UTC')::date,
               '00000000-0000-0000-0000-000000000000', count(*),
               sum(prompt_tokens), sum(completion_tokens)
        FROM messages WHERE role = 'assistant' AND status <> 'streaming'
        GROUP BY 1, 2
        """
    )


def downgrade() -> None:
    op.drop_table("daily_usage")
    op.drop_index("api_keys_by_digest", table_name="api_keys")
    op.drop_table("api_keys")
