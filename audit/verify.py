"""Check the hash chains: find the first edited, inserted or deleted row.

Each partition is walked in ``chain_seq`` order from its retention base (the
genesis, or the checkpoint a prune left, whose HMAC is checked) and every row
must (a) hash to its ``row_hash`` under the chain key, (b) follow the previous
sequence number and (c) name the previous row's hash as ``prev_hash``; the
last row must be the partition head. Rows are streamed, so memory stays flat.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from capgate.audit.chain import checkpoint_mac, derive_key, row_hash
from capgate.audit.schema import EVENTS, HEADS

__all__ = ["Problem", "VerifyReport", "verify_chain"]


@dataclass(frozen=True, slots=True)
class Problem:
    """The first break found in one partition."""

    kind: str  # "edited", "inserted", "deleted" or "checkpoint"
    partition: int
    row_id: int | None
    detail: str


@dataclass(slots=True)
class VerifyReport:
    """What :func:`verify_chain` found; ``ok`` when every chain is intact."""

    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    anchor: str = ""

    @property
    def ok(self) -> bool:
        """True when no row was edited, inserted or deleted."""
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The problem with the lowest row id (the earliest tampering)."""
        ordered = sorted(self.problems, key=lambda p: (p.row_id is None, p.row_id or 0))
        return ordered[0] if ordered else None


@dataclass(slots=True)
class _Walk:
    seq: int
    link: str
    head_seq: int
    head_hash: str
    last_id: int | None = None
    broken: bool = False


def _check_row(key: bytes, walk: _Walk, row: Any) -> tuple[str, str] | None:
    values = row._mapping
    if row.chain_seq > walk.head_seq:
        return "inserted", f"seq {row.chain_seq} is past the chain head ({walk.head_seq})"
    if row_hash(key, values) != row.row_hash:
        return "edited", "content does not match its hash (edited, or inserted without the key)"
    if row.chain_seq <= walk.seq:
        return "inserted", f"seq {row.chain_seq} is at or before the retention base"
    if row.chain_seq != walk.seq + 1:
        return "deleted", f"rows seq {walk.seq + 1}..{row.chain_seq - 1} before it are missing"
    if row.prev_hash != walk.link:
        return "deleted", "the row before it is not the one it was chained to (replaced)"
    return None


def _walks(key: bytes, heads: Iterable[Any], report: VerifyReport) -> dict[int, _Walk]:
    walks: dict[int, _Walk] = {}
    for head in heads:
        walk = _Walk(head.base_seq, head.base_hash, head.seq, head.last_hash)
        mac = checkpoint_mac(
            key, partition=head.chain_partition, seq=head.base_seq, link=head.base_hash
        )
        if head.base_seq > 0 and not hmac.compare_digest(mac, head.base_mac or ""):
            report.problems.append(
                Problem("checkpoint", head.chain_partition, None, "retention base not signed")
            )
            walk.broken = True
        walks[head.chain_partition] = walk
    return walks


def verify_chain(connection: Connection, *, secret: bytes | str) -> VerifyReport:
    """Walk every partition's chain; the report lists the first break of each."""
    key = derive_key(secret)
    report = VerifyReport()
    heads = connection.execute(select(HEADS).order_by(HEADS.c.chain_partition)).all()
    walks = _walks(key, heads, report)
    digest = hashlib.sha256()
    for head in heads:
        digest.update(f"{head.chain_partition}:{head.seq}:{head.last_hash};".encode())
    report.anchor = hmac.new(key, digest.digest(), hashlib.sha256).hexdigest()
    rows = connection.execution_options(yield_per=2000).execute(
        select(EVENTS).order_by(EVENTS.c.chain_partition, EVENTS.c.chain_seq)
    )
    for row in rows:
        report.rows += 1
        walk = walks.get(row.chain_partition)
        if walk is None:
            report.problems.append(
                Problem("inserted", row.chain_partition, row.id, "partition has no chain head")
            )
            walks[row.chain_partition] = walk = _Walk(0, "", -1, "", broken=True)
        if walk.broken:
            continue
        found = _check_row(key, walk, row)
        if found is not None:
            report.problems.append(Problem(found[0], row.chain_partition, row.id, found[1]))
            walk.broken = True
            continue
        walk.seq, walk.link, walk.last_id = row.chain_seq, row.row_hash, row.id
    for partition, walk in walks.items():
        if not walk.broken and (walk.seq, walk.link) != (walk.head_seq, walk.head_hash):
            detail = f"rows after seq {walk.seq} (up to head {walk.head_seq}) are missing"
            report.problems.append(Problem("deleted", partition, walk.last_id, detail))
    return report
