"""audit trail: audit_events and checkpoints

Revision ID: 0001_audit
Revises: None

Creates the append-only audit table, one chain head per partition, the prune
permit table, and the triggers that refuse UPDATE, DELETE (unless a prune
permit covers the row) and TRUNCATE. Keep in step with capgate/audit/schema.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_audit"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here on purpose: a migration must not change when the code does.
PARTITIONS = 64
GENESIS = "0" * 64
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)

_IDS = (
    "command_id", "attempt", "idempotency_key", "plugin_name", "plugin_id", "capability_id",
    "capability_key", "execution_kind", "definition_id", "invocation_id", "trigger_event_id",
    "manual_invoker_id", "correlation_id", "key_id", "service_key", "operation",
    "resource_type", "resource_id",
)  # fmt: skip
_LENGTHS = {"execution_kind": 32, "service_key": 64, "operation": 64, "resource_type": 64}

_PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_prune_permits p WHERE OLD.recorded_at < p.before
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'use "capgate audit prune --before DATE" for retention';
END $$;

CREATE OR REPLACE FUNCTION audit_chain_heads_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.chain_partition <> OLD.chain_partition
        OR NEW.seq < OLD.seq OR NEW.base_seq < OLD.base_seq THEN
        RAISE EXCEPTION 'audit_chain_heads only move forward: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_chain_heads_forward BEFORE UPDATE OR DELETE ON audit_chain_heads "
    "FOR EACH ROW EXECUTE FUNCTION audit_chain_heads_forward_only()",
    "CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_heads_forward_only()",
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits p WHERE OLD.recorded_at < p.before) "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END",
    "CREATE TRIGGER audit_chain_heads_forward BEFORE UPDATE ON audit_chain_heads "
    "WHEN NEW.seq < OLD.seq OR NEW.base_seq < OLD.base_seq "
    "OR NEW.chain_partition <> OLD.chain_partition "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain_heads only move forward'); END",
    "CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain_heads only move forward'); END",
)


def _id_column(name: str) -> sa.Column[object]:
    if name == "attempt":
        return sa.Column(name, sa.Integer(), nullable=False)
    return sa.Column(name, sa.String(_LENGTHS.get(name, 128)), nullable=True)


def upgrade() -> None:
    """Create the audit tables, their indexes and the append-only triggers."""
    op.create_table(
        "audit_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        *(_id_column(name) for name in _IDS),
        sa.Column("requested_scopes", sa.JSON(), nullable=False),
        sa.Column("granted_scopes", sa.JSON(), nullable=False),
        sa.Column("denied_scopes", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("error_kind", sa.String(32)),
        sa.Column("error_code", sa.String(128)),
        sa.Column("error_message", sa.Text()),
        sa.Column("retry_delay_ms", sa.BigInteger()),
        sa.Column("retry_reason", sa.Text()),
        sa.Column("duration_ms", sa.BigInteger()),
        sa.Column("actor_id", sa.String(128)),
        sa.Column("reason", sa.Text()),
        sa.Column("request_summary", sa.JSON(), nullable=False),
        sa.Column("response_summary", sa.JSON(), nullable=False),
        sa.Column("worker_host", sa.String(255)),
        sa.Column("task_id", sa.String(255)),
        sa.Column("chain_partition", sa.Integer(), nullable=False),
        sa.Column("chain_seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.UniqueConstraint("event_id", name="uq_audit_events_event_id"),
        sa.UniqueConstraint("command_id", "attempt", "outcome", name="uq_audit_events_attempt"),
        sa.UniqueConstraint("chain_partition", "chain_seq", name="uq_audit_events_chain"),
        sa.CheckConstraint("attempt >= 1", name="ck_audit_events_attempt_positive"),
    )
    op.create_index("ix_audit_events_recorded_at", "audit_events", ["recorded_at"])
    for name, column in (
        ("plugin", "plugin_name"),
        ("capability_key", "capability_key"),
        ("capability_id", "capability_id"),
        ("operation", "operation"),
        ("outcome", "outcome"),
        ("correlation", "correlation_id"),
    ):
        op.create_index(f"ix_audit_events_{name}", "audit_events", [column, "id"])
    heads = op.create_table(
        "audit_chain_heads",
        sa.Column("chain_partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("base_seq", sa.BigInteger(), nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
        sa.Column("base_mac", sa.String(64)),
        sa.PrimaryKeyConstraint("chain_partition", name="pk_audit_chain_heads"),
    )
    op.bulk_insert(
        heads,
        [
            {"chain_partition": p, "seq": 0, "last_hash": GENESIS, "base_seq": 0}
            | {"base_hash": GENESIS, "base_mac": None}
            for p in range(PARTITIONS)
        ],
    )
    op.create_table(
        "audit_prune_permits",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("before", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_prune_permits"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTIONS)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    """Drop the audit tables (and with them their triggers)."""
    op.drop_table("audit_prune_permits")
    op.drop_table("audit_chain_heads")
    op.drop_table("audit_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
        op.execute("DROP FUNCTION IF EXISTS audit_chain_heads_forward_only()")
