"""The email port: what a provider is asked to send, what it answers, and the sender protocol.

Every provider (SMTP, Gmail, .eml files, the in-memory fake) implements
:class:`EmailSender`. A sender raises only ``PluginServiceError``; each one
translates its vendor's failures in one table of its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Protocol

__all__ = [
    "EmailSender",
    "OutgoingAttachment",
    "OutgoingEmail",
    "SentEmail",
    "message_id_for",
]

# dot-atom-text of RFC 5322 (the left part of a Message-ID), without "/" and "=".
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+?^_`{|}~-]+)*$")


def message_id_for(command_id: str, domain: str) -> str:
    """The Message-ID of the email a command sends: the same for every attempt.

    A receiver (or the provider) can drop a resend because the header does
    not change between attempts. A command id that is not valid dot-atom
    text (``:`` is allowed in ids but not in a Message-ID) is hashed.
    """
    left = command_id if _DOT_ATOM.match(command_id) else _hashed(command_id)
    return f"<{left}@{domain}>"


def _hashed(command_id: str) -> str:
    return "cmd-" + hashlib.sha256(command_id.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    """A decoded attachment."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One message, ready for any provider. Bodies stay out of ``repr()``."""

    message_id: str
    sender: str
    date: datetime
    subject: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: str | None = None
    text: str | None = field(default=None, repr=False)
    html: str | None = field(default=None, repr=False)
    attachments: tuple[OutgoingAttachment, ...] = field(default=(), repr=False)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient, Bcc included."""
        return [*self.to, *self.cc, *self.bcc]

    def to_mime(self) -> EmailMessage:
        """The RFC 5322 message (CRLF line ends); Bcc is left out of the headers."""
        mime = EmailMessage(policy=SMTP)
        mime["Message-ID"] = self.message_id
        mime["Date"] = format_datetime(self.date)
        mime["From"] = self.sender
        if self.to:
            mime["To"] = ", ".join(self.to)
        if self.cc:
            mime["Cc"] = ", ".join(self.cc)
        if self.reply_to:
            mime["Reply-To"] = self.reply_to
        mime["Subject"] = self.subject
        for name, value in self.headers:
            mime[name] = value
        if self.text is not None:
            mime.set_content(self.text)
            if self.html is not None:
                mime.add_alternative(self.html, subtype="html")
        elif self.html is not None:
            mime.set_content(self.html, subtype="html")
        for item in self.attachments:
            maintype, _, subtype = item.content_type.partition("/")
            mime.add_attachment(
                item.content, maintype=maintype, subtype=subtype, filename=item.filename
            )
        return mime


@dataclass(frozen=True, slots=True)
class SentEmail:
    """What a provider answered: the Message-ID, its own id, refused recipients."""

    message_id: str
    provider_message_id: str | None = None
    rejected: tuple[str, ...] = ()


class EmailSender(Protocol):
    """The port: send one message or raise ``PluginServiceError``."""

    def send(self, message: OutgoingEmail) -> SentEmail:
        """Deliver ``message`` to the provider."""
        ...
