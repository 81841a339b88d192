"""The module ``celery -A capgate.workers.main worker`` loads.

Reading settings here is the one exception to "nothing at import time": the
Celery command line needs a module-level app. No connection is opened.
"""

from __future__ import annotations

from capgate.settings import load_settings
from capgate.workers.celery_app import create_app
from capgate.workers.memory import collect_after_big_commands

__all__ = ["app"]

app = create_app(load_settings())
collect_after_big_commands()
