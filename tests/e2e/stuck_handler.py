"""A ``users.revoke_sessions`` handler that, once, never returns (for the hard time limit test).

Installed with ``CAPGATE_ADAPTER_OVERRIDES`` (``{"users.revoke_sessions":
"tests.e2e.stuck_handler:revoke_sessions"}``). Its first call creates the file
named by ``STUCK_MARKER`` and then ignores the soft time limit, as C code
that never returns to the interpreter would (a regular expression stuck on
a hostile string did): only the hard time limit ends it, by killing the pool
process. Every later call succeeds at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from capgate.adapters.base import AdapterResult, Invocation

__all__ = ["revoke_sessions"]


def revoke_sessions(invocation: Invocation) -> AdapterResult:
    """Hang until killed the first time; then return at once."""
    marker = Path(os.environ["STUCK_MARKER"])
    if not marker.exists():
        marker.write_text(invocation.command_id, encoding="utf-8")
        while True:
            try:
                time.sleep(3600)
            except SoftTimeLimitExceeded:
                continue
    return AdapterResult({"revoked": 0}, "user", "u-bob")
