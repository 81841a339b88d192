"""Read audit rows: filters, keyset-paginated streaming, the newest rows, follow.

Rows are read in pages of ``id > last ORDER BY id LIMIT n``: each page is a
short query served by the ``(filter column, id)`` indexes, so a million-row
export holds one page in memory and no long-lived cursor or transaction.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, func, or_, select

from capgate.audit.schema import EVENTS

__all__ = ["AuditFilter", "count", "follow", "iter_rows", "newest"]

PAGE = 1000
_LOOKBACK = 200  # ids that may still commit late are looked at again (< PAGE)
_REMEMBERED = 10 * _LOOKBACK


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """Export filters; ``None`` means no condition. ``capability`` matches id or key."""

    since: datetime | None = None
    until: datetime | None = None
    plugin: str | None = None
    capability: str | None = None
    operation: str | None = None
    outcome: str | None = None
    correlation_id: str | None = None
    command_id: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses for these filters."""
        c = EVENTS.c
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(c.recorded_at >= self.since)
        if self.until is not None:
            found.append(c.recorded_at < self.until)
        if self.capability is not None:
            found.append(
                or_(c.capability_id == self.capability, c.capability_key == self.capability)
            )
        for value, column in (
            (self.plugin, c.plugin_name),
            (self.operation, c.operation),
            (self.outcome, c.outcome),
            (self.correlation_id, c.correlation_id),
            (self.command_id, c.command_id),
        ):
            if value is not None:
                found.append(column == value)
        return found


def _select(where: AuditFilter) -> Select[Any]:
    return select(EVENTS).where(*where.conditions())


def iter_rows(engine: Engine, where: AuditFilter, *, page: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every matching row, oldest first, as a dict; one page in memory at a time."""
    last = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                _select(where).where(EVENTS.c.id > last).order_by(EVENTS.c.id).limit(page)
            ).all()
        for row in rows:
            yield dict(row._mapping)
        if len(rows) < page:
            return
        last = rows[-1].id


def count(engine: Engine, where: AuditFilter) -> int:
    """How many rows match (for a progress display)."""
    query = select(func.count()).select_from(EVENTS).where(*where.conditions())
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def newest(engine: Engine, where: AuditFilter, *, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest matching rows, oldest first."""
    query = _select(where).order_by(EVENTS.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [dict(row._mapping) for row in reversed(rows)]


def follow(
    engine: Engine,
    where: AuditFilter,
    *,
    after: int,
    interval: float = 1.0,
    polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Rows written after row id ``after``, as they appear (``polls`` bounds it for tests).

    Ids are handed out before commit, so a slow transaction can commit a
    smaller id after a larger one: each poll looks back over the last ids
    seen and skips the ones already shown.
    """
    recent: deque[int] = deque(maxlen=_REMEMBERED)
    shown: set[int] = set()
    highest = after
    done = 0
    while polls is None or done < polls:
        floor = max(after, highest - _LOOKBACK)
        query = _select(where).where(EVENTS.c.id > floor).order_by(EVENTS.c.id).limit(PAGE)
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            if row.id in shown:
                continue
            if len(recent) == _REMEMBERED:
                shown.discard(recent[0])
            recent.append(row.id)
            shown.add(row.id)
            highest = max(highest, row.id)
            yield dict(row._mapping)
        done += 1
        if len(rows) < PAGE and (polls is None or done < polls):
            sleep(interval)
