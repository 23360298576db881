"""inbound integrations: who may post messages in through a signed webhook

A tenant table like the others: on Citus it is distributed by `user_id`. An inbound post
names the integration by its id alone, so it is also found by id (its UUIDv7 is unique).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatfn.db import distribute_on_citus

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_integrations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_index("inbound_integrations_by_id", "inbound_integrations", ["id"])
    distribute_on_citus(op.get_bind(), "inbound_integrations", "user_id", colocate_with="users")


def downgrade() -> None:
    op.drop_index("inbound_integrations_by_id", table_name="inbound_integrations")
    op.drop_table("inbound_integrations")
