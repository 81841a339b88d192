"""core tables: users, roles, sessions, toggled resources, change log, email providers

Revision ID: 0003_core
Revises: 0002_registry
"""

from __future__ import annotations

revision = "0003_core"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in by the issue that owns these tables."""


def downgrade() -> None:
    """Filled in by the issue that owns these tables."""
