"""worker state: commands, idempotency, retry schedule, dead letters

Revision ID: 0004_worker
Revises: 0003_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_worker"
down_revision = "0003_core"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the worker's state tables."""
    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(128), primary_key=True),
        sa.Column("plugin_id", sa.String(128), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("series_start", sa.Integer, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("deferred_ms", sa.BigInteger, nullable=False),
        sa.Column("task_id", sa.String(155)),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("plugin_id", sa.String(128), primary_key=True),
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("command_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("response", sa.JSON),
        sa.Column("error", sa.JSON),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "scheduled_retries",
        sa.Column("command_id", sa.String(128), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("task_name", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("task_id", sa.String(155)),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_scheduled_retries_due_at", "scheduled_retries", ["due_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("command_id", sa.String(128), nullable=False),
        sa.Column("plugin_id", sa.String(128), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("task_name", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("error", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("died_at", _TS, nullable=False),
        sa.Column("replayed_at", _TS),
        sa.Column("replayed_by", sa.String(128)),
    )
    op.create_index("ix_dead_letters_command_id", "dead_letters", ["command_id"])


def downgrade() -> None:
    """Drop the worker's state tables."""
    op.drop_table("dead_letters")
    op.drop_table("scheduled_retries")
    op.drop_table("idempotency_records")
    op.drop_table("commands")
