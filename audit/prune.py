"""Retention: delete rows older than a date, the only way rows ever leave.

The append-only triggers let a DELETE through only while a row of
``audit_prune_permits`` covers it; :func:`prune` inserts that permit, deletes,
and removes it again in one transaction, so no other session ever sees it
(and the application's database role has no privilege on that table).

Per partition the oldest rows are cut as a prefix of the chain: the newest
deleted link becomes the partition's retention base, signed with the chain
key, so ``capgate audit verify`` still checks the rows that remain. The prune
writes an audit row of its own (operation ``audit.prune``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from capgate.audit.chain import checkpoint_mac, derive_key
from capgate.audit.events import AuditEvent, Outcome
from capgate.audit.recorder import AuditRecorder, Recorded
from capgate.audit.schema import EVENTS, HEADS, PERMITS
from capgate.database import utcnow

__all__ = ["PruneResult", "prune"]


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows went, from how many chains, and the prune's own audit row."""

    deleted: int
    partitions: int
    audit: Recorded


def _prune_partition(connection: Connection, key: bytes, partition: int, before: datetime) -> int:
    events = EVENTS.c
    head = connection.execute(  # lock this chain's head until commit
        update(HEADS)
        .where(HEADS.c.chain_partition == partition)
        .values(seq=HEADS.c.seq)
        .returning(HEADS.c.seq, HEADS.c.base_seq)
    ).one()
    in_chain = (events.chain_partition == partition) & (events.chain_seq > head.base_seq)
    first_kept = connection.execute(
        select(func.min(events.chain_seq)).where(in_chain, events.recorded_at >= before)
    ).scalar()
    cut = head.seq if first_kept is None else first_kept - 1
    if cut <= head.base_seq:
        return 0
    link = connection.execute(
        select(events.row_hash).where(events.chain_partition == partition, events.chain_seq == cut)
    ).scalar_one()
    deleted = connection.execute(delete(EVENTS).where(in_chain, events.chain_seq <= cut)).rowcount
    connection.execute(
        update(HEADS)
        .where(HEADS.c.chain_partition == partition)
        .values(
            base_seq=cut,
            base_hash=link,
            base_mac=checkpoint_mac(key, partition=partition, seq=cut, link=link),
        )
    )
    return int(deleted)


def prune(
    session: Session,
    *,
    before: datetime,
    actor: str,
    secret: bytes | str,
    reason: str | None = None,
) -> PruneResult:
    """Delete rows recorded before ``before`` in the caller's transaction; audit it.

    Raises ValueError for a date in the future (a typo must not empty the trail).
    """
    if before.tzinfo is None:
        raise ValueError("prune needs a timezone-aware date")
    if before > utcnow():
        raise ValueError("prune --before must not be in the future")
    key = derive_key(secret)
    connection = session.connection()
    connection.execute(insert(PERMITS).values(before=before))
    partitions = (
        connection.execute(select(HEADS.c.chain_partition).order_by(HEADS.c.chain_partition))
        .scalars()
        .all()
    )
    counts = [_prune_partition(connection, key, p, before) for p in partitions]
    connection.execute(delete(PERMITS))
    deleted = sum(counts)
    event = AuditEvent(
        outcome=Outcome.SUCCEEDED,
        operation="audit.prune",
        execution_kind="lifecycle",
        actor_id=actor,
        reason=reason,
        request_summary={"before": before.isoformat()},
        response_summary={"deleted": deleted, "partitions": sum(1 for c in counts if c)},
    )
    audit = AuditRecorder(secret).record(connection, event)
    return PruneResult(deleted=deleted, partitions=sum(1 for c in counts if c), audit=audit)
