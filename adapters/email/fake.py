"""An in-memory provider for tests and the demo: records, and fails on request.

Controls::

    fake = FakeEmailSender()
    fake.fail_times(2)                 # the next 2 sends fail RETRYABLE, then it recovers
    fake.fail_times(1, ErrorKind.RATE_LIMIT, retry_after_ms=500)
    fake.always_fail(ErrorKind.FATAL)  # every send fails until recover()
    fake.recover()                     # back to accepting everything
    fake.sent                          # messages accepted, in order
    fake.attempts                      # every send asked, accepted or not

Use ``fake.factory`` as a provider factory so every provider of a kind
resolves to this one instance (state survives across retries).
"""

from __future__ import annotations

import threading
from typing import Any

from capgate.adapters.email.message import OutgoingEmail, SentEmail
from capgate.contracts.errors import ErrorKind, PluginServiceError

__all__ = ["FakeEmailSender"]


class FakeEmailSender:
    """Records what it was asked to send; can fail N times or for ever."""

    def __init__(self) -> None:
        """Start accepting every message."""
        self.sent: list[OutgoingEmail] = []
        self.attempts: list[OutgoingEmail] = []
        self._lock = threading.Lock()
        self._failures_left = 0
        self._forever = False
        self._kind = ErrorKind.RETRYABLE
        self._retry_after_ms: int | None = None

    def fail_times(
        self, count: int, kind: ErrorKind = ErrorKind.RETRYABLE, *, retry_after_ms: int = 1000
    ) -> None:
        """Fail the next ``count`` sends with ``kind``, then accept again."""
        with self._lock:
            self._failures_left, self._forever = count, False
            self._kind, self._retry_after_ms = kind, retry_after_ms

    def always_fail(self, kind: ErrorKind = ErrorKind.FATAL, *, retry_after_ms: int = 1000) -> None:
        """Fail every send with ``kind`` until :meth:`recover`."""
        with self._lock:
            self._forever, self._kind, self._retry_after_ms = True, kind, retry_after_ms

    def recover(self) -> None:
        """Accept every send from now on."""
        with self._lock:
            self._failures_left, self._forever = 0, False

    @property
    def sent_message_ids(self) -> list[str]:
        """Message-IDs of the accepted messages, in order."""
        return [message.message_id for message in self.sent]

    def factory(self, *_args: Any, **_kwargs: Any) -> FakeEmailSender:
        """A provider factory that always answers this instance."""
        return self

    def send(self, message: OutgoingEmail) -> SentEmail:
        """Record ``message``; fail if told to."""
        with self._lock:
            self.attempts.append(message)
            failing = self._forever or self._failures_left > 0
            if failing and not self._forever:
                self._failures_left -= 1
            if not failing:
                self.sent.append(message)
                return SentEmail(message.message_id, provider_message_id=f"fake-{len(self.sent)}")
        hint = self._retry_after_ms if self._kind is ErrorKind.RATE_LIMIT else None
        raise PluginServiceError(
            self._kind,
            f"fake_{self._kind.value.lower()}",
            f"the fake provider was told to fail ({self._kind.value})",
            retry_after_ms=hint,
        )
