"""Publishing commands with Celery: used by the pump, replays and the client."""

from __future__ import annotations

from typing import Any

from celery import Celery

from capgate.workers.request import redacted_args
from capgate.workers.tables import ScheduledRetryRow
from capgate.workers.tokens import RETRY_HEADER

__all__ = ["celery_publisher"]


def celery_publisher(app: Celery) -> Any:
    """A :data:`capgate.workers.pump.Publish` that sends through ``app``."""

    def publish(row: ScheduledRetryRow, token: str) -> None:
        app.send_task(
            row.task_name,
            args=[row.envelope],
            task_id=row.task_id,
            queue=row.queue,
            routing_key=row.queue,
            headers={RETRY_HEADER: token},
            argsrepr=redacted_args([row.envelope]),
            kwargsrepr="{}",
        )

    return publish
