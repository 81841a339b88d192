"""external deliveries: what an email send delivered, recorded apart from its attempt

Revision ID: 0006_deliveries
Revises: 0004_worker
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_deliveries"
down_revision = "0004_worker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table of deliveries (one row per command that called a provider)."""
    op.create_table(
        "external_deliveries",
        sa.Column("command_id", sa.String(128), primary_key=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resends", sa.Integer, nullable=False),
        sa.Column("resource_type", sa.String(64)),
        sa.Column("resource_id", sa.String(255)),
        sa.Column("response", sa.JSON),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the table of deliveries."""
    op.drop_table("external_deliveries")
