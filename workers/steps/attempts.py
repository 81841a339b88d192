"""Step: place this delivery in its command's history of attempts.

The command row says which attempt is due. A delivery for it runs; anything
else is a replay (the same command published again, or a delivery whose
attempt already has its audit row) and is refused without running.

One exception: the broker re-delivering the very message whose attempt has
already committed (the worker died between the commit and the
acknowledgement). That attempt's outcome is audited already, so the copy is
acknowledged without a second row (:class:`DuplicateDelivery`).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from capgate.contracts.errors import PluginServiceError
from capgate.database import unit_of_work
from capgate.workers.deps import PipelineDeps
from capgate.workers.steps.record import upsert_command
from capgate.workers.tables import CommandRow
from capgate.workers.work import Work

__all__ = ["PENDING_STATUSES", "DuplicateDelivery", "place_attempt"]

PENDING_STATUSES = frozenset({"retry_scheduled", "replay_scheduled", "delivering"})


class DuplicateDelivery(Exception):  # noqa: N818 - a control-flow signal, not an error
    """This message's attempt already has its committed outcome; acknowledge quietly."""

    def __init__(self, command_id: str, status: str, history: list[dict[str, Any]]) -> None:
        super().__init__(command_id)
        self.status = status
        """The command's status after that attempt (``succeeded``, ``dead_lettered``...)."""
        self.history = history


def _replayed(work: Work, row: Any) -> PluginServiceError:
    work.attempt = row.attempt
    return PluginServiceError.permission(
        "replayed_command",
        f"command {row.command_id} was already processed (status {row.status})",
        details={"status": row.status, "attempt": row.attempt},
    )


def place_attempt(work: Work, deps: PipelineDeps) -> None:
    """Set ``work.attempt`` and counters from the command row, or refuse a replay."""
    assert work.envelope is not None
    command_id = work.envelope.command_id
    token_attempt = deps.tokens.attempt_of(command_id, work.delivery.retry_token)
    row = _read_command(work, deps, command_id)
    if row is None:
        if token_attempt not in (None, 1):
            raise PluginServiceError.permission(
                "unknown_retry", f"retry token for a command never seen: {command_id}"
            )
        if work.delivery.redelivered:
            _count_delivery(work, deps)
        return
    if row.fingerprint != work.fingerprint:
        raise PluginServiceError.permission(
            "command_id_reused", f"command id {command_id} was used for another command"
        )
    work.known_command = True
    settled_attempt = row.attempt if row.status != "delivering" else None
    if work.delivery.redelivered and (token_attempt or 1) == settled_attempt:
        work.attempt = row.attempt
        raise DuplicateDelivery(command_id, row.status, list(row.history or []))
    if row.status not in PENDING_STATUSES:
        raise _replayed(work, row)
    expected = row.attempt if row.status == "delivering" else row.attempt + 1
    if (token_attempt or 1) != expected:
        raise _replayed(work, row)
    work.attempt = expected
    work.failures = row.failures
    work.deferred_ms = row.deferred_ms
    work.series_start = row.series_start
    work.history = list(row.history)
    if work.delivery.redelivered:
        _count_delivery(work, deps)


_COMMANDS = cast(Table, CommandRow.__table__)
_READ = select(_COMMANDS).where(_COMMANDS.c.command_id == bindparam("command_id"))


def _read_command(work: Work, deps: PipelineDeps, command_id: str) -> Any:
    """The command row (its columns as attributes), or None.

    Read in the attempt's own transaction when the runner opened one, which
    saves a connection checkout and a transaction per command; the row is
    only read (no lock), as it was in a separate one. A Core select, not an
    ORM load: nothing here changes the row, and the ORM's identity map and
    instance state cost more CPU than the query itself.
    """
    if work.session is not None:
        return work.session.execute(_READ, {"command_id": command_id}).first()
    with deps.sessions() as session:
        return session.execute(_READ, {"command_id": command_id}).first()


def _count_delivery(work: Work, deps: PipelineDeps) -> None:
    """Count a redelivery durably; a message that keeps coming back is dead-lettered.

    Only redelivered messages pay for this commit: the normal path writes the
    command row once, with the attempt's audit row.
    """
    assert work.envelope is not None
    with unit_of_work(deps.sessions) as session:
        row = session.get(CommandRow, work.envelope.command_id, with_for_update=True)
        deliveries = (row.deliveries if row is not None else 1) + 1
        upsert_command(session, work, "delivering", work.now, deliveries=deliveries)
    work.known_command = True
    if deliveries > deps.max_deliveries:
        raise PluginServiceError.fatal(
            "redelivery_limit",
            f"attempt {work.attempt} was delivered {deliveries} times without finishing",
            details={"deliveries": deliveries},
        )
