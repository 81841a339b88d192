"""The worker's authenticate step: who sent this command, and was it changed on the way?

Order matters: size, strict JSON, key lookup and the signature over the
exact received object come first; only a verified object is validated and
believed. Each refusal is a ``PluginServiceError`` with its own code (see
``docs/plugins.md``) and ``details["attribution"]``: the audit fields known
at that point (never a secret), keyed like ``AuditEvent`` fields.
Replay detection is not here: the pipeline does it with its command table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from capgate.contracts.canonical import CanonicalFormError, loads_strict
from capgate.contracts.envelope import MAX_ENVELOPE_BYTES, CommandEnvelope, verify_signature
from capgate.registry.attribution import Attribution
from capgate.registry.lookups import KeyLookup, PluginRecord

__all__ = [
    "DEFAULT_MAX_CLOCK_SKEW",
    "DEFAULT_MAX_LIFETIME",
    "AuthenticatedCommand",
    "authenticate",
]

DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=2)
"""How far in the future ``issued_at`` may be (the sender's clock may run ahead)."""
DEFAULT_MAX_LIFETIME = timedelta(hours=24)
"""Longest ``expires_at - issued_at`` accepted; bounds how long command ids must be kept."""


@dataclass(frozen=True, slots=True)
class AuthenticatedCommand:
    """A command whose signature, key, plugin and times were checked."""

    envelope: CommandEnvelope
    plugin: PluginRecord
    attribution: dict[str, str]
    """Audit fields (``AuditEvent`` names) of this command; no secret."""


def authenticate(
    raw: str | bytes,
    *,
    keys: KeyLookup,
    now: datetime,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
    accept_expired: bool = False,
) -> AuthenticatedCommand:
    """Check the envelope text ``raw`` and return it parsed, or raise ``PluginServiceError``.

    ``accept_expired`` is for deliveries the worker's own scheduler made (a
    retry or replay carrying a valid retry token): the command was on time
    when it first arrived.
    """
    trace = Attribution()
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > MAX_ENVELOPE_BYTES:
        raise trace.validation(
            "envelope_too_large",
            f"envelope is {len(data)} bytes; the limit is {MAX_ENVELOPE_BYTES}",
        )
    obj = _parse(data, trace)
    trace.claims(obj, ("command_id", "idempotency_key", "operation", "key_id"))
    key_id = obj.get("key_id")
    if not isinstance(key_id, str) or not trace.has("key_id"):
        raise trace.validation("invalid_envelope", "key_id: missing or not an identifier")
    key = keys.key(key_id)
    if key is None:
        raise trace.permission("unknown_key", f"unknown signing key {key_id!r}")
    trace.set("plugin_id", key.plugin_id)  # the key's owner: a server-side fact
    if key.is_revoked(now):
        raise trace.permission("revoked_key", f"signing key {key_id!r} has been revoked")
    _verify(obj, key.secret, trace)
    trace.verified(obj)
    envelope = _validate(obj, trace)
    claimed = envelope.context.plugin_id
    if claimed != key.plugin_id:
        raise trace.permission(
            "key_plugin_mismatch",
            f"key {key_id!r} does not belong to plugin {claimed!r}",
            claimed_plugin_id=claimed,
        )
    plugin = _plugin(keys, key.plugin_id, envelope.context.plugin_name, trace)
    _check_times(envelope, now, max_clock_skew, max_lifetime, trace, accept_expired)
    return AuthenticatedCommand(envelope, plugin, trace.fields())


def _parse(data: bytes, trace: Attribution) -> dict[str, Any]:
    try:
        obj = loads_strict(data)
    except (CanonicalFormError, json.JSONDecodeError, RecursionError) as exc:
        raise trace.validation("malformed_json", f"envelope is not strict JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise trace.validation("invalid_envelope", "envelope must be a JSON object")
    return obj


def _verify(obj: dict[str, Any], secret: str, trace: Attribution) -> None:
    try:
        valid = verify_signature(obj, secret)
    except CanonicalFormError as exc:
        # No canonical form means nothing a sender could have signed.
        raise trace.validation("invalid_envelope", f"not signable: {exc}") from None
    if not valid:
        raise trace.permission("bad_signature", "signature does not match the envelope")


def _validate(obj: dict[str, Any], trace: Attribution) -> CommandEnvelope:
    try:
        return CommandEnvelope.model_validate(obj)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(part) for part in error["loc"]) or "$", "problem": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{item['field']}: {item['problem']}" for item in problems[:5])
        raise trace.validation(
            "invalid_envelope", f"invalid envelope: {summary}"[:2000], errors=problems[:50]
        ) from None


def _plugin(keys: KeyLookup, plugin_id: str, claimed_name: str, trace: Attribution) -> PluginRecord:
    plugin = keys.plugin(plugin_id)
    if plugin is None:
        raise trace.permission("unknown_plugin", f"plugin {plugin_id!r} is not registered")
    trace.set("plugin_name", plugin.name)
    if not plugin.is_active:
        raise trace.permission("plugin_disabled", f"plugin {plugin.name!r} is disabled")
    if claimed_name != plugin.name:
        raise trace.permission(
            "plugin_name_mismatch",
            f"context names plugin {claimed_name!r}, but {plugin_id!r} is {plugin.name!r}",
            claimed_plugin_name=claimed_name,
        )
    return plugin


def _check_times(
    envelope: CommandEnvelope,
    now: datetime,
    max_clock_skew: timedelta,
    max_lifetime: timedelta,
    trace: Attribution,
    accept_expired: bool,
) -> None:
    if envelope.expires_at - envelope.issued_at > max_lifetime:
        raise trace.validation(
            "lifetime_too_long",
            f"expires_at is more than {max_lifetime} after issued_at",
        )
    if envelope.issued_at > now + max_clock_skew:
        raise trace.permission(
            "issued_in_future",
            f"issued_at {envelope.issued_at.isoformat()} is more than {max_clock_skew} "
            f"ahead of the worker's clock ({now.isoformat()})",
        )
    # Expiry bounds how late a plugin's command may first arrive; capgate's own
    # scheduled retries (accept_expired, proven by a retry token) may run later.
    if envelope.expires_at <= now and not accept_expired:
        raise trace.permission(
            "command_expired", f"command expired at {envelope.expires_at.isoformat()}"
        )
