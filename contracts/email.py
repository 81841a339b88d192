"""The ``email.send`` payload and result, with the limits a mail relay needs.

Sizes are bounded so one command stays well under the envelope limit
(``MAX_ENVELOPE_BYTES``, 4 MiB): text 256 KiB, HTML 512 KiB (UTF-8 bytes),
attachments 2 MiB decoded in total. Header text may not hold CR or LF, the
way header injection starts. Bodies and attachments are left out of
``repr()`` so they never reach a log line.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from capgate.contracts.constraints import Matches, max_utf8_bytes
from capgate.contracts.email_address import EmailAddress
from capgate.contracts.email_providers import ProviderName
from capgate.contracts.options import ContractModel, Metadata, OperationPayload

__all__ = [
    "ATTACHMENTS_MAX_BYTES",
    "HTML_MAX_BYTES",
    "MAX_RECIPIENTS",
    "RESERVED_HEADERS",
    "TEXT_MAX_BYTES",
    "Attachment",
    "EmailAddress",
    "HeaderText",
    "SendEmail",
    "SendEmailResult",
]

MAX_RECIPIENTS = 50
TEXT_MAX_BYTES = 256 * 1024
HTML_MAX_BYTES = 512 * 1024
ATTACHMENTS_MAX_BYTES = 2 * 1024 * 1024
_ATTACHMENT_MAX_CHARS = (ATTACHMENTS_MAX_BYTES + 2) // 3 * 4
_MIME_TYPE = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*"
RESERVED_HEADERS = frozenset(
    {"message-id", "from", "to", "cc", "bcc", "reply-to", "subject", "date", "sender",
     "return-path", "mime-version", "content-type", "content-transfer-encoding",
     "content-disposition", "received", "dkim-signature"}
)  # fmt: skip
"""Headers capgate sets itself; a payload may not supply them (case-insensitive)."""

HeaderText = Annotated[
    str,
    Field(max_length=998),
    Matches(r"[^\x00-\x08\x0a-\x1f\x7f]*", "must not contain CR, LF or control characters"),
]
"""One header line's text: at most 998 characters, no CR, LF or other control character."""

HeaderName = Annotated[
    str, Matches(r"[A-Za-z0-9][A-Za-z0-9\-]{0,75}", "header names are A-Z a-z 0-9 and '-'")
]


def _decodes_as_base64(value: str) -> str:
    # Re-encoding must give the same text: refuses stray padding and
    # non-zero trailing bits, so every content has one spelling.
    try:
        canonical = base64.b64encode(base64.b64decode(value, validate=True)).decode("ascii")
    except (binascii.Error, ValueError) as exc:
        raise ValueError("is not valid base64 (RFC 4648, with padding)") from exc
    if canonical != value:
        raise ValueError("is not valid base64 (RFC 4648, with padding)")
    return value


def _no_reserved_headers(value: dict[str, str]) -> dict[str, str]:
    reserved = sorted(name for name in value if name.lower() in RESERVED_HEADERS)
    if reserved:
        raise ValueError(f"capgate sets these headers itself: {', '.join(reserved)}")
    return value


class Attachment(ContractModel):
    """A file attached to an email, its content in base64."""

    filename: Annotated[
        str,
        Matches(
            r"[A-Za-z0-9_][A-Za-z0-9 ._()+\-]{0,254}",
            "must be a plain file name (A-Z a-z 0-9 space . _ ( ) + -, no path)",
        ),
    ]
    content_type: Annotated[
        str,
        Field(max_length=127, description="MIME type without parameters: 'application/pdf'."),
        Matches(_MIME_TYPE, "must be a MIME type like 'application/pdf' (no parameters)"),
    ]
    content_base64: Annotated[
        str,
        Field(max_length=_ATTACHMENT_MAX_CHARS, repr=False),
        Matches(r"[A-Za-z0-9+/]*={0,2}", "is not valid base64 (RFC 4648, with padding)"),
        AfterValidator(_decodes_as_base64),
    ]

    @property
    def size(self) -> int:
        """Decoded size in bytes."""
        return len(self.content_base64) * 3 // 4 - self.content_base64.count("=")


class SendEmail(OperationPayload):
    """``email.send``: send one message through the active or a named provider."""

    to: list[EmailAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    cc: list[EmailAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[EmailAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    reply_to: EmailAddress | None = None
    subject: HeaderText
    text: Annotated[str, max_utf8_bytes(TEXT_MAX_BYTES)] | None = Field(default=None, repr=False)
    html: Annotated[str, max_utf8_bytes(HTML_MAX_BYTES)] | None = Field(default=None, repr=False)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20, repr=False)
    headers: Annotated[dict[HeaderName, HeaderText], AfterValidator(_no_reserved_headers)] = Field(
        default_factory=dict, max_length=32
    )
    metadata: Metadata = Field(default_factory=dict, description="Tags kept with the send.")
    provider: ProviderName | None = Field(
        default=None, description="Send through this provider instead of the active one."
    )

    @model_validator(mode="after")
    def _whole_message_limits(self) -> SendEmail:
        total = len(self.to) + len(self.cc) + len(self.bcc)
        if total == 0:
            raise ValueError("to/cc/bcc: at least one recipient is required")
        if total > MAX_RECIPIENTS:
            raise ValueError(f"to/cc/bcc: at most {MAX_RECIPIENTS} recipients in total")
        if self.text is None and self.html is None:
            raise ValueError("text/html: at least one body is required")
        size = sum(attachment.size for attachment in self.attachments)
        if size > ATTACHMENTS_MAX_BYTES:
            raise ValueError(
                f"attachments: at most {ATTACHMENTS_MAX_BYTES} bytes decoded in total, got {size}"
            )
        return self


class SendEmailResult(ContractModel):
    """Result of ``email.send``."""

    message_id: Annotated[
        str,
        Field(max_length=998, description="The Message-ID header, derived from the command id."),
        Matches(r"<[!-;=?-~]+@[!-;=?-~]+>", "must be a Message-ID like '<id@host>'"),
    ]
    provider: ProviderName = Field(description="The provider that accepted the message.")
