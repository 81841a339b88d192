"""The runner: one delivery through the steps to an audited, committed verdict.

Steps run in order (authenticate, place the attempt, authorize, validate,
throttle), then deduplicate and execute; the command row read, the claim,
the adapter's change and the outcome's records share one transaction, which
commits once. Any ``PluginServiceError`` on the way goes to the
retry policy, and the failure is recorded in its own transaction. The
runner knows nothing of Celery: the task hands it a :class:`Delivery` and
turns the :class:`Verdict` into an acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from capgate.adapters.base import Invocation
from capgate.audit.events import Outcome
from capgate.audit.recorder import AuditWriteError
from capgate.audit.redaction import sanitize_error
from capgate.contracts.errors import PluginServiceError
from capgate.workers import deliveries, idempotency
from capgate.workers.deps import PipelineDeps
from capgate.workers.failures import settle_failure, settled_verdict
from capgate.workers.schedule import history_entry
from capgate.workers.steps.attempts import DuplicateDelivery, place_attempt
from capgate.workers.steps.authenticate import authenticate
from capgate.workers.steps.authorize import authorize
from capgate.workers.steps.record import audit_event, upsert_command
from capgate.workers.steps.throttle import throttle
from capgate.workers.steps.validate import validate
from capgate.workers.work import Delivery, Verdict, VerdictKind, Work

__all__ = ["STEPS", "Pipeline", "StoreUnavailableError"]

log = logging.getLogger(__name__)

Step = Callable[[Work, PipelineDeps], None]
STEPS: tuple[Step, ...] = (authenticate, place_attempt, authorize, validate, throttle)

_STORE_CODES = frozenset({"registry_unavailable", "database_unavailable"})
"""Error codes that mean the database failed, not the command."""


class StoreUnavailableError(RuntimeError):
    """The database could not be reached: nothing was recorded, do not acknowledge."""

    def __init__(self, message: str, *, stale_connection: bool = False) -> None:
        super().__init__(message)
        self.stale_connection = stale_connection
        """A pooled connection had died (the database restarted): the pool has
        dropped it and the next attempt reconnects, so no pause is needed."""


class Pipeline:
    """Runs deliveries through the steps with the given dependencies."""

    def __init__(self, deps: PipelineDeps, steps: tuple[Step, ...] = STEPS) -> None:
        self.deps = deps
        self.steps = steps

    def run(self, delivery: Delivery) -> Verdict:
        """Process one delivery; raises StoreUnavailableError if it could not be audited."""
        work = Work(delivery=delivery, now=self.deps.clock())
        try:
            try:
                # One transaction from the command row's read to the commit;
                # closing the session rolls back whatever did not commit, so a
                # failure is recorded (below) with no lock of this one held.
                with self.deps.sessions() as session:
                    work.session = session
                    for step in self.steps:
                        step(work, self.deps)
                    return self._execute(work, session)
            except DuplicateDelivery as settled:
                log.info(
                    "re-delivered message of settled attempt %s of %s acknowledged",
                    work.attempt,
                    work.command_id,
                )
                return settled_verdict(work, self.deps, settled)
            except PluginServiceError as error:
                if error.code in _STORE_CODES:
                    # The database failed under the registry read or the
                    # adapter's: that is the store being unavailable, not an
                    # answer about this command. Settling would acknowledge it
                    # with a refusal, losing it, or spend one of its attempts.
                    cause = error.__cause__
                    raise StoreUnavailableError(
                        f"registry unavailable: {type(cause).__name__}",
                        stale_connection=bool(getattr(cause, "connection_invalidated", False)),
                    ) from error
                return self._settle(work, error, unexpected=False)
            except (DBAPIError, AuditWriteError):
                raise
            except Exception as exc:
                log.exception("unexpected error in %s", work.operation or delivery.task_name)
                wrapped = PluginServiceError.retryable(
                    "unexpected_error",
                    sanitize_error(f"{type(exc).__name__}: {exc}") or type(exc).__name__,
                )
                return self._settle(work, wrapped, unexpected=True)
        except (DBAPIError, AuditWriteError) as exc:
            stale = bool(getattr(exc, "connection_invalidated", False))
            raise StoreUnavailableError(
                f"database unavailable: {type(exc).__name__}", stale_connection=stale
            ) from exc

    def _settle(self, work: Work, error: PluginServiceError, *, unexpected: bool) -> Verdict:
        """Record the failure; if even that fails, nothing may be acknowledged."""
        try:
            return settle_failure(work, self.deps, error, unexpected=unexpected)
        except (DBAPIError, AuditWriteError):
            raise
        except Exception as exc:
            log.exception("could not record the outcome of %s", work.command_id)
            raise StoreUnavailableError(f"outcome not recorded: {type(exc).__name__}") from exc

    def _execute(self, work: Work, session: Session) -> Verdict:
        """Deduplicate, run the handler and record, then commit (the caller rolls back)."""
        verdict = self._attempt(work, session)
        session.commit()
        return verdict

    def _attempt(self, work: Work, session: Session) -> Verdict:
        deps = self.deps
        assert work.envelope is not None and work.payload is not None
        envelope = work.envelope
        claim = idempotency.claim(session, envelope, work.now)
        work.claimed = claim.owned
        if not claim.owned:
            return self._duplicate(work, session, claim)
        handler = deps.handlers.get(envelope.operation)
        if handler is None:
            raise PluginServiceError.fatal(
                "no_adapter", f"no adapter is configured for {envelope.operation}"
            )
        invocation = Invocation(
            command_id=envelope.command_id,
            operation=envelope.operation,
            payload=work.payload,
            context=envelope.context,
            session=session,
            attempt=work.attempt,
            now=work.now,
        )
        if envelope.operation in deps.external_operations:
            # Commits the claim before the send and records the delivery apart.
            work.result = deliveries.deliver_once(work, deps, session, lambda: handler(invocation))
        else:
            work.result = handler(invocation)
        response = dict(work.result.response)
        idempotency.settle(session, envelope, work.now, status="succeeded", response=response)
        work.history.append(history_entry(work, Outcome.SUCCEEDED, None, None, work.now))
        upsert_command(session, work, "succeeded", work.now)
        deps.record_audit(session, audit_event(work, deps, Outcome.SUCCEEDED))
        return Verdict(
            VerdictKind.SUCCEEDED, Outcome.SUCCEEDED, envelope.command_id, work.attempt, response
        )

    def _duplicate(self, work: Work, session: Session, claim: idempotency.Claim) -> Verdict:
        assert work.envelope is not None
        work.deduplicated = True
        error = PluginServiceError.from_dict(claim.error) if claim.error else None
        work.history.append(history_entry(work, Outcome.DEDUPLICATED, error, None, work.now))
        upsert_command(session, work, "failed" if error else "succeeded", work.now)
        event = audit_event(
            work,
            self.deps,
            Outcome.DEDUPLICATED,
            error=error,
            why=f"same idempotency key as command {claim.first_command_id}",
        )
        self.deps.record_audit(session, event)
        kind = VerdictKind.FAILED if error else VerdictKind.SUCCEEDED
        return Verdict(
            kind,
            Outcome.DEDUPLICATED,
            work.envelope.command_id,
            work.attempt,
            response=claim.response,
            error=error,
        )
