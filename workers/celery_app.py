"""The Celery app: JSON only, late acknowledgement, a queue per service.

``create_app(settings)`` configures Celery and registers one task per
operation, named ``capgate.<operation>`` on the queue ``capgate.<service>``.
Only those tasks are registered (Celery's built-in canvas tasks are
removed), so a plugin message can reach nothing else. The pipeline is built
lazily, once per worker process (after the fork), so no connection is opened
at import time or shared across processes. The settings are kept beside the
app (workers/app_state.py), never in its configuration, which ``celery
inspect conf`` and Flower print.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from capgate.contracts.catalog import CATALOG
from capgate.contracts.services import ServiceKey
from capgate.settings import Settings
from capgate.workers.app_state import PipelineFactory, attach_state
from capgate.workers.pipeline import Pipeline
from capgate.workers.task import CommandTask, run_command
from capgate.workers.transport import install_json_depth_limit

__all__ = ["INTERNAL_QUEUE", "create_app", "queue_names"]

INTERNAL_QUEUE = "capgate.internal"
"""Queue of internal tasks; plugins are never allowed to publish to it."""


def queue_names() -> list[str]:
    """Every plugin-facing queue, one per service key."""
    return [f"capgate.{key.value}" for key in ServiceKey]


def _config(settings: Settings) -> dict[str, Any]:
    exchange = Exchange("capgate", type="direct")
    names = [*queue_names(), INTERNAL_QUEUE]
    queues = [Queue(name, exchange, routing_key=name) for name in names]
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Task events are what Flower shows (docs/operations.md); an operator
        # without Flower can turn them off (CAPGATE_TASK_EVENTS=false).
        "task_send_sent_event": settings.task_events,
        "worker_send_task_events": settings.task_events,
        # No STARTED state in the result backend: it cost a Redis write per
        # command, and Flower takes "started" from the task events instead. It also
        # got a command acknowledged unrun when Redis was down at that moment
        # (docs/reliability.md, 3; tests/e2e/test_result_backend_loss.py).
        "task_track_started": False,
        "task_queues": queues,
        "task_default_queue": INTERNAL_QUEUE,
        "task_routes": {
            spec.task_name: {"queue": spec.queue, "routing_key": spec.queue}
            for spec in CATALOG.values()
        },
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            # kombu sweeps messages of dead workers every interval x throttle
            # seconds (100 s by default): make it a tenth of the timeout.
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout // 10)),
            "unacked_restore_throttle": 1,
        },
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout},
        # A result the worker cannot store (the backend's Redis restarting) is
        # retried, with growing pauses of up to 5 s for about 25 s at most,
        # instead of given up at once: the command already ran and is audited,
        # and its caller is waiting for this result (docs/reliability.md, 3).
        "result_backend_always_retry": True,
        "result_backend_max_retries": 10,
        "result_backend_base_sleep_between_retries_ms": 100,
        "result_backend_max_sleep_between_retries_ms": 5000,
        "result_expires": 24 * 3600,
        "result_extended": False,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "task_create_missing_queues": False,
    }


def _production_pipeline(settings: Settings) -> Pipeline:
    from capgate.workers.wiring import production_pipeline

    return production_pipeline(settings)


def create_app(
    settings: Settings,
    *,
    main: str = "capgate",
    pipeline_factory: PipelineFactory = _production_pipeline,
) -> Celery:
    """A configured Celery app with every operation's task registered.

    Its tasks run through ``pipeline_factory(settings)``, built once per process.
    """
    app = Celery(
        main, broker=settings.broker_url, backend=settings.result_backend, set_as_current=False
    )
    app.conf.update(_config(settings))
    install_json_depth_limit()
    if settings.broker_url.startswith(("redis://", "rediss://")):
        app.conf.broker_transport = "capgate.workers.transport:Transport"
    attach_state(app, settings, pipeline_factory)
    for spec in CATALOG.values():
        app.task(name=spec.task_name, base=CommandTask, bind=True)(run_command)
    _drop_builtin_tasks(app)
    return app


def _drop_builtin_tasks(app: Celery) -> None:
    """Unregister Celery's canvas tasks (``celery.group``, ``celery.map``, ...).

    A worker runs whatever registered task a message names, whichever queue it
    came from; these would let a plugin make the worker publish to any queue
    (the internal one included). capgate never uses them, so a message naming
    one is an unregistered task: logged, rejected and dropped (docs/broker-acl.md).
    """
    for name in [name for name in app.tasks if not name.startswith("capgate.")]:
        app.tasks.unregister(name)
