"""The retry pump: publishes scheduled retries when they fall due.

Rows are taken with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so several
pumps can run side by side without publishing a row twice. A row is deleted
in the same transaction that took it, after it was published: if the pump
dies in between, the row is published again and the worker recognises the
second copy of the attempt as a duplicate (it never runs twice).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from capgate.database import unit_of_work, utcnow
from capgate.workers.tables import ScheduledRetryRow
from capgate.workers.tokens import RetryTokens

__all__ = ["Publish", "RetryPump"]

log = logging.getLogger(__name__)

Publish = Callable[[ScheduledRetryRow, str], None]
"""Publishes one due row with its retry token (header value)."""


class RetryPump:
    """Moves due rows from the schedule to the broker."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publish: Publish,
        tokens: RetryTokens,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 200,
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._tokens = tokens
        self._clock = clock
        self._batch = batch

    def run_once(self) -> int:
        """Publish every row due now (up to one batch); return how many."""
        stmt = (
            select(ScheduledRetryRow)
            .where(ScheduledRetryRow.due_at <= self._clock())
            .order_by(ScheduledRetryRow.due_at)
            .limit(self._batch)
            .with_for_update(skip_locked=True)
        )
        with unit_of_work(self._sessions) as session:
            rows = list(session.scalars(stmt))
            for row in rows:
                self._publish(row, self._tokens.issue(row.command_id, row.attempt))
                session.delete(row)
        return len(rows)

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Scan every ``interval`` seconds until ``stop`` is set; survive outages."""
        while not stop.is_set():
            try:
                published = self.run_once()
            except Exception:
                log.exception("retry pump pass failed; trying again in %.1fs", interval)
                published = 0
            if published >= self._batch:
                continue  # more are due: do not wait
            stop.wait(interval)
