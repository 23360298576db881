"""message_attachments: the files sent with a message, and what the prompt reads of them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatfn.db import distribute_on_citus

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_attachments",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("cut", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id", "message_id"],
            ["messages.user_id", "messages.id"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "message_id", "id"),
    )
    op.create_index("message_attachments_by_file", "message_attachments", ["user_id", "id"])
    distribute_on_citus(op.get_bind(), "message_attachments", "user_id", colocate_with="users")


def downgrade() -> None:
    op.drop_index("message_attachments_by_file", table_name="message_attachments")
    op.drop_table("message_attachments")
