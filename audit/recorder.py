"""Write one audit row inside the caller's transaction: :func:`record`.

The worker calls this in the same transaction as the adapter's change and
the idempotency record, then commits; nothing here commits. Per row it runs
these statements on the connection of that transaction:

1. ``UPDATE audit_chain_heads SET seq = seq ... RETURNING`` locks the row's
   partition head until the caller commits (one of 64, so writers of other
   commands go on) and reads the previous link and the database clock;
2. ``INSERT ... ON CONFLICT (command_id, attempt, outcome) DO NOTHING``, then
   ``UPDATE audit_chain_heads`` to the new link (on PostgreSQL both in one
   statement, the insert as a CTE: two round trips per row in all).

A redelivered attempt whose outcome is already recorded is not an error:
the insert does nothing and :class:`Recorded` says ``duplicate=True``, without
aborting the caller's transaction. Any database failure raises
:class:`AuditWriteError`: the caller must roll back and must not acknowledge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from capgate.audit.chain import ChainKey, derive_key, partition_for, row_hash
from capgate.audit.events import AuditEvent
from capgate.audit.rows import event_values
from capgate.audit.schema import EVENTS, HEADS

__all__ = ["AuditRecorder", "AuditWriteError", "Recorded", "record"]


class AuditWriteError(RuntimeError):
    """The audit row could not be written; the transaction must be rolled back."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """The row an event became (or already was, when ``duplicate``)."""

    id: int
    event_id: str
    duplicate: bool = False


_COLUMNS = [column for column in EVENTS.c if column.name != "id"]


def _statements(dialect: str) -> dict[str, Executable]:
    clock = (
        func.clock_timestamp()
        if dialect == "postgresql"
        else func.strftime("%Y-%m-%d %H:%M:%f", "now")
    )
    at_partition = HEADS.c.chain_partition == bindparam("p")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    advance = update(HEADS).values(seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
    statements: dict[str, Executable] = {
        "lock": update(HEADS)
        .where(at_partition)
        .values(seq=HEADS.c.seq)
        .returning(HEADS.c.seq, HEADS.c.last_hash, clock),
        "insert": insert(EVENTS)
        .on_conflict_do_nothing(index_elements=["command_id", "attempt", "outcome"])
        .returning(EVENTS.c.id),
        "advance": advance.where(at_partition),
        "existing": select(EVENTS.c.id, EVENTS.c.event_id).where(
            EVENTS.c.command_id == bindparam("c"),
            EVENTS.c.attempt == bindparam("a"),
            EVENTS.c.outcome == bindparam("o"),
        ),
    }
    if dialect == "postgresql":
        # One round trip instead of two: the insert runs as a CTE and the head
        # moves only when it inserted (a duplicate returns no row).
        inserted = (
            postgresql.insert(EVENTS)
            # Prefixed names: a column name of the updated table would become a SET clause.
            .values({c.name: bindparam(f"v_{c.name}", type_=c.type) for c in _COLUMNS})
            .on_conflict_do_nothing(index_elements=["command_id", "attempt", "outcome"])
            .returning(EVENTS.c.id)
            .cte("inserted")
        )
        statements["insert_advance"] = (
            advance.add_cte(inserted)
            .where(at_partition, exists(select(inserted.c.id)))
            .returning(select(inserted.c.id).scalar_subquery())
        )
    return statements


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite's strftime gives text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditRecorder:
    """Writes chained audit rows; build one per process and reuse it (the hot path)."""

    def __init__(self, secret: bytes | str) -> None:
        """``secret`` is the server secret (``settings.secret``); only a derived key is kept."""
        self._key: ChainKey = derive_key(secret)
        self._cache: dict[str, dict[str, Executable]] = {}

    def record(self, session: Session | Connection, event: AuditEvent) -> Recorded:
        """Write ``event`` in the caller's transaction (no commit); raise AuditWriteError."""
        connection = session.connection() if isinstance(session, Session) else session
        try:
            return self._write(connection, event_values(event))
        except SQLAlchemyError as exc:
            raise AuditWriteError(f"audit row not written: {type(exc).__name__}") from exc

    def _write(self, connection: Connection, values: dict[str, Any]) -> Recorded:
        dialect = connection.dialect.name
        statements = self._cache.get(dialect) or self._cache.setdefault(
            dialect, _statements(dialect)
        )
        event_id = str(uuid.uuid4())
        partition = partition_for(values["command_id"], event_id)
        head = connection.execute(statements["lock"], {"p": partition}).one()
        values.update(
            event_id=event_id,
            recorded_at=_as_utc(head[2]),
            chain_partition=partition,
            chain_seq=head.seq + 1,
            prev_hash=head.last_hash,
        )
        values["row_hash"] = row_hash(self._key, values)
        moved = {"p": partition, "new_seq": values["chain_seq"], "new_hash": values["row_hash"]}
        combined = statements.get("insert_advance")
        if combined is not None:
            prefixed = {f"v_{name}": value for name, value in values.items()}
            row_id = connection.execute(combined, prefixed | moved).scalar()
        else:
            row_id = connection.execute(statements["insert"], values).scalar()
            if row_id is not None:
                connection.execute(statements["advance"], moved)
        if row_id is None:
            existing = connection.execute(
                statements["existing"],
                {"c": values["command_id"], "a": values["attempt"], "o": values["outcome"]},
            ).one()
            return Recorded(id=existing.id, event_id=existing.event_id, duplicate=True)
        return Recorded(id=int(row_id), event_id=event_id)


@lru_cache(maxsize=4)
def _recorder(secret: bytes | str) -> AuditRecorder:
    return AuditRecorder(secret)


def record(session: Session | Connection, event: AuditEvent, *, secret: bytes | str) -> Recorded:
    """Write ``event`` inside the caller's transaction; see :class:`AuditRecorder`.

    ``secret`` is ``settings.secret.get_secret_value()``; the recorder built
    from it is reused across calls.
    """
    return _recorder(secret).record(session, event)
