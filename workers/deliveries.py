"""What an external operation (``email.send``) delivered, kept apart from the attempt's transaction.

The attempt's transaction holds the command row, the idempotency record and
the audit row, and commits after the provider answered. If the database
blinks in between, that commit is lost although the email left, and the
message comes back to the queue. So the delivery is tracked in its own row:

- ``sending``, written with the claim, which commits before the provider is
  called: this attempt may send;
- ``sent``, written right after the provider accepted, in a short separate
  transaction retried across a reconnect for :data:`RECORD_BUDGET_SECONDS`.

A copy of the message that comes back then finds ``sent`` and settles the
command as succeeded from that record without sending again. One that finds
``sending`` for its own attempt (the worker died inside the provider
exchange, or the record could not be written in time) sends again and says
so: an audit row with outcome ``resent``, committed before the resend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from capgate.adapters.base import AdapterResult
from capgate.audit.events import Outcome
from capgate.database import Base, UtcDateTime, unit_of_work
from capgate.workers.deps import PipelineDeps
from capgate.workers.steps.record import audit_event
from capgate.workers.work import Work

__all__ = ["RECORD_BUDGET_SECONDS", "DeliveryRow", "deliver_once", "record_sent"]

log = logging.getLogger(__name__)

RECORD_BUDGET_SECONDS = 15.0
"""How long the worker keeps trying to record a delivery that happened. Longer
than a database restart or a failover usually takes; past it the message goes
back to the queue and its resend is audited as ``resent``."""

SENDING = "sending"
SENT = "sent"


class DeliveryRow(Base):
    """The latest attempt of a command that called the outside world, and whether it delivered."""

    __tablename__ = "external_deliveries"

    command_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    # Copies sent for this attempt with no record of the earlier one (``resent``).
    resends: Mapped[int] = mapped_column(Integer, default=0)
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


def deliver_once(
    work: Work, deps: PipelineDeps, session: Session, call: Callable[[], AdapterResult]
) -> AdapterResult:
    """Run ``call`` (the handler) at most once per recorded delivery; commits ``session``.

    Called with the claim taken but not committed: marks the attempt
    ``sending`` in the same commit (with a ``resent`` audit row if this
    attempt may have sent already), calls the provider, then records the
    delivery durably before the caller goes on.
    """
    assert work.envelope is not None
    command_id = work.envelope.command_id
    row = session.get(DeliveryRow, command_id, populate_existing=True)
    if row is not None and row.state == SENT:
        log.info("%s was delivered by attempt %s: settled from its record", command_id, row.attempt)
        session.commit()
        return AdapterResult(dict(row.response or {}), row.resource_type, row.resource_id)
    if row is None:
        session.add(
            DeliveryRow(
                command_id=command_id,
                attempt=work.attempt,
                state=SENDING,
                resends=0,
                updated_at=work.now,
            )
        )
    elif row.attempt != work.attempt:
        # The earlier attempt ended with an audited failure: it did not deliver.
        row.attempt, row.resends, row.updated_at = work.attempt, 0, work.now
    else:
        _audit_resend(work, deps, session, row)
    # The claim and the intent must be visible before the outside world is
    # touched, so a concurrent duplicate waits instead of sending again.
    session.commit()
    result = call()
    record_sent(deps.sessions, command_id, work.attempt, result, deps.clock())
    return result


def _audit_resend(work: Work, deps: PipelineDeps, session: Session, row: DeliveryRow) -> None:
    """This attempt already reached the provider once, with no record of the outcome."""
    row.resends += 1
    row.updated_at = work.now
    if row.resends > 1:
        # The audit trail names each attempt's outcome once; the first
        # ``resent`` row already marks this attempt as possibly sent twice.
        log.warning(
            "%s attempt %s is sent again (%d copies may have left)",
            row.command_id,
            row.attempt,
            row.resends + 1,
        )
        return
    why = (
        f"attempt {row.attempt} reached the provider with no recorded delivery;"
        " the email may have been sent already"
    )
    deps.record_audit(session, audit_event(work, deps, Outcome.RESENT, why=why))


def record_sent(
    sessions: sessionmaker[Session],
    command_id: str,
    attempt: int,
    result: AdapterResult,
    now: datetime,
    *,
    budget: float = RECORD_BUDGET_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Record that ``attempt`` delivered, in its own transaction, retried for ``budget`` seconds.

    A connection the server dropped fails one try; SQLAlchemy then discards
    the pool's connections and the next try reconnects. Raises the last
    database error once the budget is spent.
    """
    deadline = time.monotonic() + budget
    pause = 0.05
    while True:
        try:
            with unit_of_work(sessions) as session:
                session.merge(
                    DeliveryRow(
                        command_id=command_id,
                        attempt=attempt,
                        state=SENT,
                        resource_type=result.resource_type,
                        resource_id=result.resource_id,
                        response=dict(result.response),
                        updated_at=now,
                    )
                )
            return
        except DBAPIError as exc:
            if time.monotonic() + pause > deadline:
                log.error("delivery of %s not recorded: %s", command_id, type(exc).__name__)
                raise
            log.warning("recording the delivery of %s failed, trying again", command_id)
            sleep(pause)
            pause = min(pause * 2, 1.0)
