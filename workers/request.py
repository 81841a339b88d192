"""A Celery request whose argument representation never shows the envelope.

Flower and task events show ``argsrepr``, which comes from the message
header the *publisher* wrote. A plugin may write anything there (or nothing,
in which case some tools fall back to the arguments), so the worker replaces
it with a fixed, body-free description before any event is sent.
"""

from __future__ import annotations

from typing import Any

from celery.worker.request import Request

__all__ = ["RedactedRequest", "redacted_args"]


def redacted_args(args: Any) -> str:
    """What operators see for a command's arguments: its size, never its content."""
    if isinstance(args, list | tuple) and len(args) == 1 and isinstance(args[0], str | bytes):
        return f"(<envelope {len(args[0])} bytes>,)"
    return "(<redacted>)"


class RedactedRequest(Request):
    """Request with redacted ``argsrepr``/``kwargsrepr`` for events and logs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Celery keeps the representations in these private slots; the public
        # properties read them when events are sent.
        self._argsrepr = redacted_args(self.request_dict.get("args"))
        self._kwargsrepr = "{}" if not self.request_dict.get("kwargs") else "{<redacted>}"
