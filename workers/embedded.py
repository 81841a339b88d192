"""An in-process Celery worker and retry pump, for the demo and for tests.

The worker runs in a thread on whatever broker the app names (the demo uses
the in-memory one); it is the same Celery worker code as ``celery worker``,
with the thread pool instead of prefork.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from celery.contrib.testing.worker import start_worker

from capgate.workers.celery_app import queue_names
from capgate.workers.pump import RetryPump

__all__ = ["embedded_worker"]


@contextmanager
def embedded_worker(
    app: Celery, pump: RetryPump, *, concurrency: int = 4, pump_interval: float = 0.1
) -> Iterator[None]:
    """Run a worker on every plugin queue and the pump until the block ends."""
    stop = threading.Event()
    pump_thread = threading.Thread(
        target=pump.run_forever, args=(pump_interval, stop), name="capgate-pump", daemon=True
    )
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        loglevel="ERROR",
        queues=queue_names(),
        shutdown_timeout=10.0,
    ):
        pump_thread.start()
        try:
            yield
        finally:
            stop.set()
            pump_thread.join(timeout=5)
