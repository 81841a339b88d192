"""A real SMTP server on localhost (aiosmtpd in a thread) that tests can make misbehave.

``SmtpTestServer`` answers like a normal relay until told otherwise:
``rcpt_reply``/``data_reply``/``mail_reply`` make it answer a given line
(``"451 4.3.0 try later"``), ``drop_at_data`` closes the connection instead
of answering, ``data_delay`` keeps the client waiting, ``after_accept`` runs
(in the server's thread) once a message is taken and before the 250 reply, and ``credentials``
requires AUTH (after STARTTLS) with that login and password.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class SmtpBehaviour:
    """How the server answers; change it between sends."""

    mail_reply: str | None = None
    rcpt_reply: str | None = None
    refuse_recipients: set[str] = field(default_factory=set)
    data_reply: str | None = None
    drop_at_data: bool = False
    data_delay: float = 0.0
    after_accept: Callable[[], None] | None = None


class _Handler:
    def __init__(self, behaviour: SmtpBehaviour, received: list[EmailMessage]) -> None:
        self.behaviour = behaviour
        self.received = received

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.behaviour.mail_reply:
            return self.behaviour.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.behaviour.rcpt_reply:
            return self.behaviour.rcpt_reply
        if address in self.behaviour.refuse_recipients:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.behaviour.drop_at_data:
            server.transport.close()
            return "421 closing"
        if self.behaviour.data_delay:
            await asyncio.sleep(self.behaviour.data_delay)
        if self.behaviour.data_reply:
            return self.behaviour.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message["X-Test-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.received.append(message)
        if self.behaviour.after_accept is not None:
            self.behaviour.after_accept()
        return "250 2.0.0 queued"


class SmtpTestServer:
    """One aiosmtpd server on 127.0.0.1:<port>, started and stopped by a fixture."""

    def __init__(
        self,
        port: int,
        *,
        credentials: tuple[str, str] | None = None,
        starttls_context: Any = None,
        implicit_tls_context: Any = None,
    ) -> None:
        self.port = port
        self.behaviour = SmtpBehaviour()
        self.received: list[EmailMessage] = []
        self.auth_attempts: list[str] = []
        self._credentials = credentials
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port}
        if credentials is not None:
            # AUTH only after STARTTLS, as a real relay does (needs starttls_context).
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        if starttls_context is not None:
            kwargs.update(tls_context=starttls_context, require_starttls=True)
        if implicit_tls_context is not None:
            kwargs.update(ssl_context=implicit_tls_context)
        self._controller = Controller(_Handler(self.behaviour, self.received), **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        self.auth_attempts.append(login)
        ok = (login, auth_data.password.decode()) == self._credentials
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpTestServer:
        """Start serving; returns self."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._controller.stop()
