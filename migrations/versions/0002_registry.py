"""plugin registry: plugins, capabilities, grants, signing keys

Revision ID: 0002_registry
Revises: 0001_audit
"""

from __future__ import annotations

revision = "0002_registry"
down_revision = "0001_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Filled in by the issue that owns these tables."""


def downgrade() -> None:
    """Filled in by the issue that owns these tables."""
