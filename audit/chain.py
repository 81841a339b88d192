"""The hash chain: which partition a row joins and the HMAC that links it.

Every row carries ``row_hash = HMAC-SHA256(chain_key, prev_hash || canonical(row))``
where ``prev_hash`` is the ``row_hash`` of the previous row of the same
partition. The key is derived from the server secret, so someone with write
access to the database but not the secret cannot recompute a chain after
editing, inserting or deleting a row.

Rows are spread over :data:`~capgate.audit.schema.CHAIN_PARTITIONS` chains by
command id, so concurrent workers lock different head rows instead of one
global one, while every attempt of one command stays on one chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from capgate.audit.schema import CHAIN_PARTITIONS

__all__ = [
    "HASHED_FIELDS",
    "ChainKey",
    "canonical_row",
    "checkpoint_mac",
    "derive_key",
    "partition_for",
    "row_hash",
]

ChainKey = bytes
"""The derived HMAC key (never the server secret itself)."""

# Every column but the database's own row id: editing any of them breaks the chain.
HASHED_FIELDS: tuple[str, ...] = (
    "event_id", "recorded_at", "command_id", "attempt", "idempotency_key",
    "plugin_name", "plugin_id", "capability_id", "capability_key", "execution_kind",
    "definition_id", "invocation_id", "trigger_event_id", "manual_invoker_id",
    "correlation_id", "key_id", "service_key", "operation", "resource_type", "resource_id",
    "requested_scopes", "granted_scopes", "denied_scopes", "outcome", "error_kind",
    "error_code", "error_message", "retry_delay_ms", "retry_reason", "duration_ms",
    "actor_id", "reason", "request_summary", "response_summary", "worker_host", "task_id",
    "chain_partition", "chain_seq", "prev_hash",
)  # fmt: skip


def derive_key(secret: bytes | str) -> ChainKey:
    """The chain key for ``secret``: a separate key, so the secret is never used twice."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("the audit chain needs a non-empty server secret")
    return hmac.new(raw, b"capgate.audit.chain.v1", hashlib.sha256).digest()


def partition_for(command_id: str | None, event_id: str) -> int:
    """The chain a row joins: by command id, or by its own event id when it has none."""
    return zlib.crc32((command_id or event_id).encode("utf-8")) % CHAIN_PARTITIONS


def _timestamp(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def canonical_row(values: Mapping[str, Any]) -> bytes:
    """The bytes hashed for one row: its hashed fields as sorted, compact JSON."""
    document = {name: _plain(values.get(name)) for name in HASHED_FIELDS}
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def row_hash(key: ChainKey, values: Mapping[str, Any]) -> str:
    """The hex HMAC that links a row (``values`` includes its ``prev_hash``)."""
    return hmac.new(key, canonical_row(values), hashlib.sha256).hexdigest()


def checkpoint_mac(key: ChainKey, *, partition: int, seq: int, link: str) -> str:
    """The HMAC that vouches for a retention base (written by prune, checked by verify)."""
    message = f"checkpoint:{partition}:{seq}:{link}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
