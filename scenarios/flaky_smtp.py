"""An SMTP sink that answers ``451`` to every other message (aiosmtpd in a thread).

capgate opens one SMTP connection per message, so "every other message" is
"every other connection". Accepted messages are kept with their Message-ID.
"""

from __future__ import annotations

import email
import email.policy
import threading
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["AlternatingSmtp"]


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.transactions = 0
        self.refused = 0
        self.message_ids: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.transactions += 1
            if self.transactions % 2 == 1:
                self.refused += 1
                return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.message_ids.append(str(message["Message-ID"]))
        return "250 2.0.0 queued"


class AlternatingSmtp:
    """127.0.0.1:<port>: the 1st, 3rd, 5th ... message gets 451, the others are accepted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._handler = _Handler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=port)

    @property
    def message_ids(self) -> list[str]:
        """Message-IDs of the accepted messages, in order."""
        return list(self._handler.message_ids)

    @property
    def refused(self) -> int:
        """How many messages got 451."""
        return self._handler.refused

    def start(self) -> AlternatingSmtp:
        """Start serving; returns self."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()
