"""The module ``celery -A capgate.workers.main worker`` loads.

Reading settings here is the one exception to "nothing at import time": the
Celery command line needs a module-level app. No connection is opened. The
app comes from the same root as ``capgate worker`` (workers/process.py):
the retry pump, the queue selection, the checks and the log redaction are
the same. A bad setting exits with one line naming it, before Celery starts.
"""

from __future__ import annotations

import sys

from capgate.logs import install_worker_logging
from capgate.workers.process import StartupError, load_checked_settings, worker_app

__all__ = ["app"]

try:
    app = worker_app(load_checked_settings())
except StartupError as exc:
    sys.exit(f"capgate: {exc}")
# Celery's --loglevel applies; the format is JSON unless stderr is a terminal.
install_worker_logging(None)
