"""trigram indexes for search

Conversation search matches any part of a word, as people expect of a chat history
(`ILIKE '%...%'`); pg_trgm's GIN indexes keep that fast on long histories. pg_trgm
ships with PostgreSQL (contrib) and with Citus.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:59:06.669140
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "conversations_title_trigrams",
        "conversations",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_index(
        "messages_content_trigrams",
        "messages",
        ["content"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"content": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index(
        "messages_content_trigrams",
        table_name="messages",
        postgresql_using="gin",
        postgresql_ops={"content": "gin_trgm_ops"},
    )
    op.drop_index(
        "conversations_title_trigrams",
        table_name="conversations",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
