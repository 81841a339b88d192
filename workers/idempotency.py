"""Idempotency with the semantics payment APIs use.

The same key from the same plugin with the same payload runs once; later
duplicates get the first result. The same key with another payload is a
VALIDATION error ``idempotency_conflict``. A duplicate that arrives while
the first is still running waits (RETRYABLE ``idempotency_in_progress``)
instead of running beside it: on PostgreSQL the claim's INSERT blocks on the
first transaction's uncommitted row, and an external operation commits its
claim before it calls the outside world.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Executable, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from capgate.contracts.canonical import canonical_bytes
from capgate.contracts.envelope import CommandEnvelope
from capgate.contracts.errors import PluginServiceError
from capgate.workers.tables import IdempotencyRow

__all__ = ["Claim", "claim", "request_fingerprint", "settle"]


@dataclass(frozen=True, slots=True)
class Claim:
    """Either this command owns the key, or here is the first command's result."""

    owned: bool
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    first_command_id: str | None = None


def request_fingerprint(envelope: CommandEnvelope) -> str:
    """SHA-256 of the canonical (operation, payload): what 'the same request' means."""
    body = canonical_bytes({"operation": envelope.operation, "payload": envelope.payload})
    return hashlib.sha256(body).hexdigest()


_TABLE = cast(Table, IdempotencyRow.__table__)
_RESULT = ("status", "response", "error", "updated_at")


@lru_cache(maxsize=4)
def _statements(dialect: str) -> tuple[Executable, Executable]:
    """(claim, settle) for ``dialect``, built once: the values travel as parameters."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    claim = insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.command_id)
    upsert = insert(_TABLE)
    settle = upsert.on_conflict_do_update(
        index_elements=[_TABLE.c.plugin_id, _TABLE.c.idempotency_key],
        set_={name: upsert.excluded[name] for name in _RESULT},
    )
    return claim, settle


def claim(session: Session, envelope: CommandEnvelope, now: datetime) -> Claim:
    """Take the key for this command, or report the first command's outcome."""
    plugin_id = envelope.context.plugin_id
    fingerprint = request_fingerprint(envelope)
    values = {
        "plugin_id": plugin_id,
        "idempotency_key": envelope.idempotency_key,
        "request_sha256": fingerprint,
        "command_id": envelope.command_id,
        "status": "in_progress",
        "created_at": now,
        "updated_at": now,
    }
    stmt, _ = _statements(session.get_bind().dialect.name)
    # RETURNING, not rowcount: SQLAlchemy does not promise an INSERT's rowcount
    # (it is -1 with psycopg 3), and reading the row back costs a round trip.
    if session.execute(stmt, values).first() is not None:
        return Claim(owned=True)
    row = session.get(IdempotencyRow, (plugin_id, envelope.idempotency_key), populate_existing=True)
    assert row is not None
    if row.request_sha256 != fingerprint:
        raise PluginServiceError.validation(
            "idempotency_conflict",
            f"idempotency key {envelope.idempotency_key!r} was used with a different payload",
            details={"first_command_id": row.command_id},
        )
    if row.status == "succeeded" or (
        row.status == "failed" and row.command_id != envelope.command_id
    ):
        return Claim(False, row.response, row.error, row.command_id)
    if row.command_id != envelope.command_id:
        raise PluginServiceError.retryable(
            "idempotency_in_progress",
            f"command {row.command_id} with the same idempotency key is still running",
            retry_after_ms=1_000,
            details={"first_command_id": row.command_id},
        )
    # Our own key (a retry, or an operator replay after a failure): run again.
    row.status = "in_progress"
    row.error = None
    row.updated_at = now
    return Claim(owned=True)


def settle(
    session: Session,
    envelope: CommandEnvelope,
    now: datetime,
    *,
    status: str,
    response: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    """Store the command's final result under its key (insert or update)."""
    values = {
        "plugin_id": envelope.context.plugin_id,
        "idempotency_key": envelope.idempotency_key,
        "request_sha256": request_fingerprint(envelope),
        "command_id": envelope.command_id,
        "status": status,
        "response": response,
        "error": error,
        "created_at": now,
        "updated_at": now,
    }
    # Through the session, so a pending change to the row (claim's "run again")
    # is flushed first and cannot overwrite this result at commit.
    session.execute(_statements(session.get_bind().dialect.name)[1], values)
