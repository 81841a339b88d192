"""The audit store: writes rows in a transaction of its own, for callers without one.

The worker records inside its own unit of work with
:func:`capgate.audit.recorder.record`; everything else (operator commands,
the demo, a failure path whose transaction was rolled back) uses
:class:`AuditStore`. Both raise :class:`AuditWriteError` and never swallow a
failure: an attempt that cannot be audited must not be acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from capgate.audit.events import AuditEvent
from capgate.audit.recorder import AuditRecorder, AuditWriteError, Recorded
from capgate.database import unit_of_work

__all__ = ["AuditStore"]


class AuditStore:
    """Records audit events, committing each call's rows in one transaction."""

    def __init__(self, sessions: sessionmaker[Session], *, secret: bytes | str) -> None:
        """``sessions`` from the composition root; ``secret`` is the server secret."""
        self._sessions = sessions
        self._recorder = AuditRecorder(secret)

    @property
    def recorder(self) -> AuditRecorder:
        """The recorder, for writing inside a transaction the caller already holds."""
        return self._recorder

    def record(self, event: AuditEvent) -> Recorded:
        """Write and commit one row; raise AuditWriteError if it is not durable."""
        return self.record_many((event,))[0]

    def record_many(self, events: Iterable[AuditEvent]) -> list[Recorded]:
        """Write several rows and commit them together (all or none)."""
        try:
            with unit_of_work(self._sessions) as session:
                return [self._recorder.record(session, event) for event in events]
        except SQLAlchemyError as exc:  # the commit itself failed
            raise AuditWriteError(f"audit rows not committed: {type(exc).__name__}") from exc
