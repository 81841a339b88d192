"""SMTP provider over smtplib: STARTTLS, implicit TLS or plain, with optional login.

Failures are translated by :mod:`capgate.adapters.email.smtp_errors`. When
some recipients are refused but others accepted, the message *was* sent:
the send succeeds and reports the refused addresses (retrying would deliver
a second copy to the accepted ones).
"""

from __future__ import annotations

import smtplib
import ssl

from capgate.adapters.email.config import SmtpConfig, SmtpSecurity
from capgate.adapters.email.message import OutgoingEmail, SentEmail
from capgate.adapters.email.smtp_errors import translate_smtp_errors

__all__ = ["SmtpSender"]


class SmtpSender:
    """Sends through one SMTP server described by an :class:`SmtpConfig`."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        """``tls_context`` is the deployment's trust store (default: the system's)."""
        self._config = config
        self._tls_context = tls_context
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        config = self._config
        return f"SmtpSender({config.host}:{config.port}, security={config.security.value})"

    def send(self, message: OutgoingEmail) -> SentEmail:
        """Deliver ``message``; raise ``PluginServiceError`` on failure."""
        mime = message.to_mime()
        with translate_smtp_errors(), self._connect() as client:
            if self._config.security is SmtpSecurity.STARTTLS:
                client.starttls(context=self._context())
            if self._config.username:
                password = self._config.password
                client.login(self._config.username, password.get_secret_value() if password else "")
            refused = client.send_message(
                mime, from_addr=self._config.sender, to_addrs=message.recipients
            )
        return SentEmail(message_id=message.message_id, rejected=tuple(sorted(refused)))

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        if config.security is SmtpSecurity.TLS:
            return smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=self._local_hostname,
                timeout=config.timeout_seconds,
                context=self._context(),
            )
        return smtplib.SMTP(
            config.host,
            config.port,
            local_hostname=self._local_hostname,
            timeout=config.timeout_seconds,
        )

    def _context(self) -> ssl.SSLContext:
        return self._tls_context or ssl.create_default_context()
