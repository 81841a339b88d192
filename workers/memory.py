"""Keep a worker's memory flat after commands with big envelopes.

Connected by both ways of starting a worker (``capgate worker`` and
``celery -A capgate.workers.main worker``).
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["BIG_ENVELOPE_BYTES", "collect_after_big_commands"]

BIG_ENVELOPE_BYTES = 64 * 1024
"""An envelope at least this long is followed by a full garbage collection."""


def _collect_after(args: Any = None, **_: Any) -> None:
    envelope = args[0] if isinstance(args, list | tuple) and args else None
    if isinstance(envelope, str | bytes) and len(envelope) >= BIG_ENVELOPE_BYTES:
        gc.collect()


def collect_after_big_commands() -> None:
    """Free, after each command with a big envelope, what earlier ones left in cycles.

    Celery's tracer keeps a failed task's exception in a reference cycle with
    its own frame, which holds the message body: only a full collection frees
    it, and CPython runs one only when the objects surviving younger ones
    reach a quarter of all long-lived objects (hundreds of commands in a
    worker). Refused 4 MiB envelopes grew a pool process by about 6 MiB each
    (+694 MiB after the 3,000 hostile messages, docs/reliability.md section 5).
    A collection after each big command (in the process that ran it; the
    current one's cycle is freed by the next) bounds that to one envelope.
    """
    from celery.signals import task_postrun

    task_postrun.connect(_collect_after, weak=False)
