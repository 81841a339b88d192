"""plugin registry: plugins, capabilities, grants, signing keys

Revision ID: 0002_registry
Revises: 0001_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_audit"
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the registry tables (names follow capgate.database's convention)."""
    op.create_table(
        "plugins",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_plugins"),
        sa.UniqueConstraint("name", name="uq_plugins_name"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_plugins_status"),
    )
    op.create_table(
        "capabilities",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("plugin_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_capabilities"),
        sa.ForeignKeyConstraint(
            ["plugin_id"],
            ["plugins.id"],
            name="fk_capabilities_plugin_id_plugins",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("plugin_id", "key", name="uq_capabilities_plugin_id_key"),
        sa.CheckConstraint(
            "kind IN ('action', 'trigger', 'register', 'lifecycle')", name="ck_capabilities_kind"
        ),
    )
    op.create_index("ix_capabilities_plugin_id", "capabilities", ["plugin_id"])
    op.create_table(
        "capability_grants",
        sa.Column("capability_id", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("rate_limit", sa.String(32), nullable=True),
        _timestamp("granted_at"),
        sa.PrimaryKeyConstraint("capability_id", "scope", name="pk_capability_grants"),
        sa.ForeignKeyConstraint(
            ["capability_id"],
            ["capabilities.id"],
            name="fk_capability_grants_capability_id_capabilities",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("plugin_id", sa.String(128), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("rotated_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signing_keys"),
        sa.ForeignKeyConstraint(
            ["plugin_id"],
            ["plugins.id"],
            name="fk_signing_keys_plugin_id_plugins",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_signing_keys_plugin_id", "signing_keys", ["plugin_id"])
    op.create_table(
        "capability_definitions",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("capability_id", sa.String(128), nullable=False),
        sa.Column("required_scopes", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_capability_definitions"),
        sa.ForeignKeyConstraint(
            ["capability_id"],
            ["capabilities.id"],
            name="fk_capability_definitions_capability_id_capabilities",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_capability_definitions_capability_id", "capability_definitions", ["capability_id"]
    )


def downgrade() -> None:
    """Drop the registry tables, children first."""
    op.drop_table("capability_definitions")
    op.drop_table("signing_keys")
    op.drop_table("capability_grants")
    op.drop_table("capabilities")
    op.drop_table("plugins")
