"""Serve the worker's metrics over HTTP, counting across prefork pool processes.

A prefork worker runs commands in forked pool processes, so their counters
are not in the main process's memory. prometheus_client's multiprocess mode
has every process write its values to files in ``PROMETHEUS_MULTIPROC_DIR``
and the main process add them up when scraped. The variable must be set
before prometheus_client is first imported, which is why this module imports
it only inside :func:`start_metrics_server`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["MULTIPROC_ENV", "start_metrics_server"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _prepare_directory(directory: Path | None) -> Path:
    if directory is None:
        preset = os.environ.get(MULTIPROC_ENV)
        if preset:
            directory = Path(preset)
        else:
            directory = Path(tempfile.mkdtemp(prefix="capgate-metrics-"))
            # Ours alone: remove it when the worker's main process exits.
            atexit.register(shutil.rmtree, directory, True)
    directory.mkdir(parents=True, exist_ok=True)
    # Files left by an earlier run would be added to this one's totals.
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def start_metrics_server(port: int, *, address: str, directory: Path | None = None) -> Path:
    """Serve ``/metrics`` on ``address:port`` from a background thread; returns the files' folder.

    Call it in the worker's main process before the pool starts.
    """
    if "prometheus_client" in sys.modules and MULTIPROC_ENV not in os.environ:
        raise RuntimeError(
            "prometheus_client was imported before the metrics folder was set; "
            "start the metrics server first"
        )
    folder = _prepare_directory(directory)
    os.environ[MULTIPROC_ENV] = str(folder)
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    start_http_server(port, addr=address, registry=registry)
    return folder
