"""The Celery task every operation shares: hand the message to the pipeline.

The task turns the pipeline's verdict into what Celery and Flower show:
success returns the result; a scheduled retry raises ``Retry`` (state RETRY,
the message is acknowledged; the retry pump publishes the next attempt when
due); a failure raises the ``PluginServiceError`` (state FAILURE). If the
audit row could not be committed the message is *not* acknowledged: it is
rejected back to the queue after a short pause, so nothing runs unaudited.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Reject, Retry

from capgate.contracts.errors import PluginServiceError
from capgate.workers.pipeline import Pipeline, StoreUnavailableError
from capgate.workers.tokens import RETRY_HEADER
from capgate.workers.work import Delivery, Verdict, VerdictKind

__all__ = ["CommandTask", "PipelineFactory", "run_command", "verdict_result"]

log = logging.getLogger(__name__)

PipelineFactory = Callable[[Any], Pipeline]
"""Builds the pipeline from the app's settings (``app.conf.capgate_pipeline_factory``)."""

_STORE_PAUSE_SECONDS = 2.0


class CommandTask(Task[Any, Any]):
    """Base of every command task: late ack, redacted args, one pipeline per process."""

    acks_late = True
    reject_on_worker_lost = True
    Request = "capgate.workers.request:RedactedRequest"
    # Expected outcomes are logged without a traceback.
    throws = (PluginServiceError,)

    _pipeline: Pipeline | None = None
    _lock = threading.Lock()

    @property
    def pipeline(self) -> Pipeline:
        """The process's pipeline, built on first use (after the worker forked)."""
        app_conf = self.app.conf
        cached = app_conf.get("capgate_pipeline_instance")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        with CommandTask._lock:
            cached = app_conf.get("capgate_pipeline_instance")
            if cached is None:
                factory: PipelineFactory = app_conf.get("capgate_pipeline_factory") or _default
                cached = factory(app_conf.capgate_settings)
                app_conf.capgate_pipeline_instance = cached
        return cached  # type: ignore[no-any-return]


def _default(settings: Any) -> Pipeline:
    from capgate.workers.wiring import production_pipeline

    return production_pipeline(settings)


def verdict_result(verdict: Verdict) -> dict[str, Any]:
    """The JSON result a caller receives for a settled command."""
    return {
        "command_id": verdict.command_id,
        "outcome": verdict.outcome.value,
        "attempt": verdict.attempt,
        "response": verdict.response,
    }


def run_command(self: CommandTask, envelope: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Run one command through the pipeline (the body of every command task)."""
    request = self.request
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
        verdict = self.pipeline.run(delivery)
    except StoreUnavailableError as exc:
        # Nothing was recorded: give the message back, after a pause so an
        # outage does not become a hot loop.
        log.error("audit store unavailable, returning %s to the queue: %s", request.id, exc)
        time.sleep(_STORE_PAUSE_SECONDS)
        raise Reject(str(exc), requeue=True) from exc
    if verdict.kind is VerdictKind.SUCCEEDED:
        return verdict_result(verdict)
    if verdict.kind is VerdictKind.RETRY_SCHEDULED:
        raise Retry(
            message=f"attempt {verdict.attempt} scheduled a retry",
            exc=verdict.error,
            when=verdict.retry_at,
        )
    assert verdict.error is not None
    raise verdict.error
