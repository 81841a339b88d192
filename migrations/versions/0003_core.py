"""core tables: users, roles, sessions, toggled resources, change log, email providers

Revision ID: 0003_core
Revises: 0002_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_core"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

ROLES = (
    ("viewer", 10, "Reads what is released to them."),
    ("editor", 20, "Edits bundles, recipients and pipelines."),
    ("operator", 30, "Runs the platform day to day."),
    ("admin", 40, "Manages users and every setting."),
)
# Extra string columns of each switchable resource: (name, length, nullable).
_TOGGLEABLE_EXTRA: dict[str, tuple[tuple[str, int, bool], ...]] = {
    "bundles": (),
    "recipients": (("email", 320, False),),
    "action_definitions": (("plugin_id", 128, True),),
    "trigger_definitions": (("plugin_id", 128, True),),
    "pipelines": (),
}


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _toggleable() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _ts("updated_at", nullable=True),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the core tables and the known roles."""
    roles = op.create_table(
        "roles",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_roles"),
    )
    op.bulk_insert(roles, [{"name": n, "rank": r, "description": d} for n, r, d in ROLES])
    op.create_table(
        "users",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("service_account_plugin_id", sa.String(128), nullable=True),
        _ts("created_at"),
        _ts("updated_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.ForeignKeyConstraint(["role"], ["roles.name"], name="fk_users_role_roles"),
    )
    op.create_index("ix_users_service_account_plugin_id", "users", ["service_account_plugin_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        _ts("issued_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        _fk("user_sessions", "user_id", "users"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    for table, extra in _TOGGLEABLE_EXTRA.items():
        op.create_table(
            table,
            *_toggleable(),
            sa.Column("name", sa.String(200), nullable=False),
            *[sa.Column(n, sa.String(size), nullable=null) for n, size, null in extra],
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        )
    op.create_table(
        "bundle_assignments",
        *_toggleable(),
        sa.Column("bundle_id", sa.String(128), nullable=False),
        sa.Column("recipient_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bundle_assignments"),
        _fk("bundle_assignments", "bundle_id", "bundles"),
        _fk("bundle_assignments", "recipient_id", "recipients"),
        sa.UniqueConstraint(
            "bundle_id", "recipient_id", name="uq_bundle_assignments_bundle_id_recipient_id"
        ),
    )
    _change_log()
    _email_providers()


def _change_log() -> None:
    op.create_table(
        "change_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("audit_metadata", sa.JSON(), nullable=False),
        sa.Column("plugin_id", sa.String(128), nullable=False),
        sa.Column("capability_id", sa.String(128), nullable=False),
        sa.Column("command_id", sa.String(128), nullable=False),
        _ts("changed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_change_log"),
    )
    op.create_index("ix_change_log_resource", "change_log", ["resource_type", "resource_id"])
    op.create_index("ix_change_log_command_id", "change_log", ["command_id"])


def _email_providers() -> None:
    op.create_table(
        "email_providers",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_plugin_id", sa.String(128), nullable=False),
        sa.Column("sealed_config", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("name", name="pk_email_providers"),
        sa.CheckConstraint("kind IN ('smtp', 'gmail', 'eml')", name="ck_email_providers_kind"),
    )
    op.create_index("ix_email_providers_owner_plugin_id", "email_providers", ["owner_plugin_id"])
    # At most one active provider (partial unique index, both dialects).
    op.create_index(
        "uq_email_providers_one_active",
        "email_providers",
        ["active"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    """Drop the core tables, dependents first."""
    for table in (
        "email_providers",
        "change_log",
        "bundle_assignments",
        "pipelines",
        "trigger_definitions",
        "action_definitions",
        "recipients",
        "bundles",
        "user_sessions",
        "users",
        "roles",
    ):
        op.drop_table(table)
