"""worker state: commands, idempotency, retry schedule, dead letters

Revision ID: 0004_worker
Revises: 0003_core
"""

from __future__ import annotations

revision = "0004_worker"
down_revision = "0003_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in by the issue that owns these tables."""


def downgrade() -> None:
    """Filled in by the issue that owns these tables."""
