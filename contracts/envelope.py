"""The command envelope and its HMAC-SHA256 signature.

A command travels as the single positional argument of a Celery task named
``capgate.<operation>``: the envelope as a JSON *text*, so that the worker
verifies the signature over exactly what the plugin sent, before it trusts
anything in it. ``docs/wire-format.md`` is the language-neutral description.

Signing: ``signature = hex(HMAC-SHA256(key, canonical_bytes(envelope
without "signature")))`` where ``key`` is the UTF-8 bytes of the plugin's
signing-key secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from capgate.contracts.canonical import canonical_bytes
from capgate.contracts.context import PluginServiceContext
from capgate.contracts.types import Identifier, UtcDatetime

__all__ = [
    "FORMAT_VERSION",
    "MAX_ENVELOPE_BYTES",
    "CommandEnvelope",
    "Operation",
    "build_envelope",
    "compute_signature",
    "signing_input",
    "verify_signature",
]

FORMAT_VERSION = 1
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
"""Largest envelope text a worker will parse (a bigger one is refused unread)."""

Operation = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z_]*\.[a-z][a-z_]*$", max_length=64)
]
Signature = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class CommandEnvelope(BaseModel):
    """A signed command, as a plugin publishes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = Field(description="Envelope format; always 1 for now.")
    command_id: Identifier = Field(description="Unique id of this command (a UUID is fine).")
    idempotency_key: Identifier = Field(
        description="Same key + same payload from the same plugin runs once."
    )
    operation: Operation = Field(description="e.g. 'email.send'; the task is 'capgate.<op>'.")
    payload: dict[str, Any] = Field(description="The operation's payload (see its schema).")
    context: PluginServiceContext
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    key_id: Identifier = Field(description="Id of the plugin signing key that signed this.")
    signature: Signature = Field(description="Lower-case hex HMAC-SHA256; see wire-format.md.")

    @model_validator(mode="after")
    def _expiry_after_issue(self) -> CommandEnvelope:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be later than issued_at")
        return self

    @property
    def task_name(self) -> str:
        """The Celery task name that carries this command."""
        return f"capgate.{self.operation}"


def signing_input(envelope: dict[str, Any]) -> bytes:
    """The bytes that are signed: the canonical form without ``signature``."""
    unsigned = {key: value for key, value in envelope.items() if key != "signature"}
    return canonical_bytes(unsigned)


def compute_signature(envelope: dict[str, Any], secret: str) -> str:
    """Hex HMAC-SHA256 of :func:`signing_input` under the key ``secret``."""
    mac = hmac.new(secret.encode("utf-8"), signing_input(envelope), hashlib.sha256)
    return mac.hexdigest()


def verify_signature(envelope: dict[str, Any], secret: str) -> bool:
    """True when ``envelope['signature']`` matches; compared in constant time."""
    claimed = envelope.get("signature")
    # A non-ASCII claim (even a lone surrogate from a "\ud800" escape) can
    # never match hex digits; refusing it here keeps encode() from raising.
    if not isinstance(claimed, str) or not claimed.isascii():
        return False
    expected = compute_signature(envelope, secret)
    return hmac.compare_digest(expected.encode("ascii"), claimed.encode("ascii"))


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_envelope(
    *,
    operation: str,
    payload: dict[str, Any],
    context: PluginServiceContext,
    key_id: str,
    secret: str,
    idempotency_key: str | None = None,
    command_id: str | None = None,
    issued_at: datetime | None = None,
    ttl: timedelta = timedelta(minutes=15),
) -> str:
    """Build, sign and return the envelope JSON text for one command.

    ``payload`` must already be JSON-compatible (use ``model_dump(mode="json")``).
    """
    issued = issued_at or datetime.now(UTC)
    command = command_id or str(uuid.uuid4())
    envelope: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "command_id": command,
        "idempotency_key": idempotency_key or command,
        "operation": operation,
        "payload": payload,
        "context": context.model_dump(mode="json"),
        "issued_at": _utc_text(issued),
        "expires_at": _utc_text(issued + ttl),
        "key_id": key_id,
    }
    envelope["signature"] = compute_signature(envelope, secret)
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
