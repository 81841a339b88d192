"""audit trail: audit_events and checkpoints

Revision ID: 0001_audit
Revises: None
"""

from __future__ import annotations

revision = "0001_audit"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in by the issue that owns these tables."""


def downgrade() -> None:
    """Filled in by the issue that owns these tables."""
