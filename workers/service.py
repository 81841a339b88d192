"""Process-level helpers for the CLI: a worker's retry pump and the pump loop."""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from capgate.bootstrap import bootstrap
from capgate.settings import Settings
from capgate.workers.publish import celery_publisher
from capgate.workers.pump import RetryPump
from capgate.workers.tokens import RetryTokens

__all__ = ["attach_pump", "make_pump"]


def make_pump(app: Celery, settings: Settings) -> RetryPump:
    """A pump that publishes through ``app`` from ``settings.database_url``."""
    runtime = bootstrap(settings)
    tokens = RetryTokens(settings.secret.get_secret_value())
    return RetryPump(runtime.sessions, celery_publisher(app), tokens)


def attach_pump(app: Celery, settings: Settings) -> None:
    """Run the retry pump in a thread of the worker's main process while it runs."""
    stop = threading.Event()

    def start(**_: Any) -> None:
        pump = make_pump(app, settings)
        threading.Thread(
            target=pump.run_forever,
            args=(settings.pump_interval, stop),
            name="capgate-pump",
            daemon=True,
        ).start()

    def halt(**_: Any) -> None:
        stop.set()

    worker_ready.connect(start, weak=False)
    worker_shutdown.connect(halt, weak=False)
