"""The Celery task every operation shares: hand the message to the pipeline.

The task turns the pipeline's verdict into what Celery and Flower show:
success returns the result; a scheduled retry raises ``Retry`` (state RETRY,
the message is acknowledged; the retry pump publishes the next attempt when
due); a failure raises the ``PluginServiceError`` (state FAILURE). If the
audit row could not be committed the message is *not* acknowledged: it is
rejected back to the queue after a short pause, so nothing runs unaudited.

A message carrying a workflow (callbacks, errbacks, a chain or a chord) is
refused: those would make the worker publish tasks the plugin chose, to
queues it chose. They are removed from the request before anything else,
and the command is authenticated (for attribution) and then failed with
VALIDATION ``workflow_not_allowed`` without running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, Retry

from capgate.audit.events import Outcome
from capgate.contracts.errors import PluginServiceError
from capgate.workers.app_state import pipeline_for
from capgate.workers.concealed import ConcealedResponse
from capgate.workers.deps import PipelineDeps
from capgate.workers.pipeline import Pipeline, StoreUnavailableError
from capgate.workers.queues import misrouted, refuse_wrong_queue
from capgate.workers.steps.attempts import place_attempt
from capgate.workers.steps.authenticate import authenticate
from capgate.workers.tokens import RETRY_HEADER
from capgate.workers.work import Delivery, Verdict, VerdictKind, Work

__all__ = ["CommandTask", "run_command", "verdict_result"]

log = logging.getLogger(__name__)

_STORE_PAUSE_SECONDS = 2.0

WORKFLOW_FIELDS = ("callbacks", "errbacks", "chain", "chord")
"""Request fields through which a message asks the worker to run more tasks."""


class CommandTask(Task[Any, Any]):
    """Base of every command task: late ack, redacted args, one pipeline per process."""

    acks_late = True
    reject_on_worker_lost = True
    # Killed at the hard time limit, the attempt committed nothing: give the
    # message back (redelivered, counted, dead-lettered after max_deliveries)
    # instead of Celery's default of acknowledging it with no audit row.
    acks_on_timeout = False
    Request = "capgate.workers.request:RedactedRequest"
    # Expected outcomes are logged without a traceback.
    throws = (PluginServiceError,)

    @property
    def pipeline(self) -> Pipeline:
        """The process's pipeline, built on first use (after the worker forked)."""
        return pipeline_for(self.app)


def verdict_result(verdict: Verdict) -> dict[str, Any]:
    """The JSON result a caller receives for a settled command."""
    return {
        "command_id": verdict.command_id,
        "outcome": verdict.outcome.value,
        "attempt": verdict.attempt,
        # The caller gets the response; the worker log and Flower its audit summary.
        "response": None if verdict.response is None else ConcealedResponse(verdict.response),
    }


def strip_workflow(request: Any) -> tuple[str, ...]:
    """Clear the workflow fields of a Celery request; returns those that were set.

    Celery reads them from the request after the task returns or fails, so
    clearing them here means no callback, errback, chain step or chord
    part is ever dispatched for this message.
    """
    found = tuple(name for name in WORKFLOW_FIELDS if getattr(request, name, None))
    for name in found:
        setattr(request, name, None)
    return found


def refuse_workflow(fields: tuple[str, ...]) -> Callable[[Work, PipelineDeps], None]:
    """A pipeline step that fails the command because it carried ``fields``."""

    def refuse(work: Work, deps: PipelineDeps) -> None:
        raise PluginServiceError.validation(
            "workflow_not_allowed",
            f"commands may not carry {', '.join(fields)}; publish each command on its own",
        )

    return refuse


def run_command(self: CommandTask, envelope: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Run one command through the pipeline (the body of every command task)."""
    request = self.request
    workflow = strip_workflow(request)
    delivery_info = request.delivery_info or {}
    headers = request.headers or {}
    delivery = Delivery(
        body=envelope if not args and not kwargs else [envelope, *args, kwargs],
        task_name=self.name,
        task_id=request.id,
        retry_token=getattr(request, RETRY_HEADER, None) or headers.get(RETRY_HEADER),
        redelivered=bool(delivery_info.get("redelivered")),
        worker_host=request.hostname,
    )
    try:
        pipeline = self.pipeline
    except Exception as exc:
        # The pipeline could not be built in this process (a database or
        # adapter that cannot be set up): nothing ran and nothing was
        # recorded, so the message goes back to the queue, never acknowledged.
        log.exception("cannot build the pipeline, returning %s to the queue", request.id)
        time.sleep(_STORE_PAUSE_SECONDS)
        raise Reject("pipeline unavailable", requeue=True) from exc
    if workflow:
        # Authenticate first so the refusal is audited against its plugin.
        steps = (authenticate, place_attempt, refuse_workflow(workflow))
        pipeline = Pipeline(pipeline.deps, steps)
    elif wrong_queue := misrouted(self.name, delivery_info):
        pipeline = Pipeline(
            pipeline.deps, (authenticate, place_attempt, refuse_wrong_queue(*wrong_queue))
        )
    try:
        verdict = pipeline.run(delivery)
    except StoreUnavailableError as exc:
        # Nothing was recorded: give the message back, after a pause so an
        # outage does not become a hot loop.
        log.error("audit store unavailable, returning %s to the queue: %s", request.id, exc)
        if not exc.stale_connection:
            time.sleep(_STORE_PAUSE_SECONDS)
        raise Reject(str(exc), requeue=True) from exc
    if verdict.kind is VerdictKind.SUCCEEDED:
        return verdict_result(verdict)
    if verdict.kind is VerdictKind.DUPLICATE_DELIVERY:
        # The attempt committed but its message came back unacknowledged: store
        # its recorded answer (a caller may be waiting), write no second row.
        if verdict.response is not None:
            return verdict_result(replace(verdict, outcome=Outcome.SUCCEEDED))
        if verdict.error is not None:
            raise verdict.error
        raise Ignore()
    if verdict.kind is VerdictKind.RETRY_SCHEDULED:
        raise Retry(
            message=f"attempt {verdict.attempt} scheduled a retry",
            exc=verdict.error,
            when=verdict.retry_at,
        )
    assert verdict.error is not None
    raise verdict.error
