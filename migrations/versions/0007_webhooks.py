"""webhooks: endpoints (api's), deliveries, attempts and endpoint health (webhooks')

Tenant tables like the others: on Citus each is distributed by `user_id` (an instance-wide
endpoint's deliveries belong to the admin who registered it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:24:09.261008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from chatfn.db import distribute_on_citus

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_attempts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("excerpt", sa.String(length=600), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("user_id", "delivery_id", "number"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_source", sa.String(length=512), nullable=False),
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("event_type", sa.String(length=256), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("resend_of", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_index(
        "webhook_deliveries_by_endpoint",
        "webhook_deliveries",
        ["user_id", "endpoint_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("state = 'retrying'"),
    )
    op.create_index(
        "webhook_deliveries_once",
        "webhook_deliveries",
        ["user_id", "endpoint_id", "event_source", "event_id"],
        unique=True,
        postgresql_where=sa.text("resend_of IS NULL"),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=16), server_default="user", nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=128)), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "id"),
    )
    op.create_table(
        "webhook_health",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("failures_in_a_row", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "endpoint_id"),
    )
    for table in ("webhook_endpoints", "webhook_deliveries", "webhook_attempts", "webhook_health"):
        distribute_on_citus(op.get_bind(), table, "user_id", colocate_with="users")


def downgrade() -> None:
    op.drop_table("webhook_health")
    op.drop_table("webhook_endpoints")
    op.drop_index(
        "webhook_deliveries_once",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("resend_of IS NULL"),
    )
    op.drop_index(
        "webhook_deliveries_due",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("state = 'retrying'"),
    )
    op.drop_index("webhook_deliveries_by_endpoint", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_attempts")
