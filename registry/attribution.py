"""What a refused command can be attributed to, for its audit row.

The authenticate step fills an :class:`Attribution` as it learns things and
puts it on every error it raises, as ``details["attribution"]`` (keys are
``AuditEvent`` field names) with ``details["signature_verified"]``. Before
the signature is verified only correlation ids are taken from the message;
``plugin_id`` is then the *key's owner* from the registry, never the
message's claim. Values that are not plain identifiers are left out, so a
hostile message cannot put arbitrary text into the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from capgate.contracts.errors import PluginServiceError
from capgate.contracts.types import ID_MAX_LENGTH, ID_PATTERN

__all__ = ["CONTEXT_FIELDS", "Attribution"]

CONTEXT_FIELDS = (
    "capability_id",
    "capability_key",
    "execution_kind",
    "definition_id",
    "invocation_id",
    "trigger_event_id",
    "manual_invoker_id",
    "correlation_id",
)
"""Context fields taken into the attribution once the signature is verified."""

_SAFE = re.compile(ID_PATTERN)


def _safe(value: str) -> bool:
    return len(value) <= ID_MAX_LENGTH and _SAFE.match(value) is not None


class Attribution:
    """Audit fields known so far about one command."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}
        self._verified = False

    def claims(self, obj: dict[str, Any], names: Iterable[str]) -> None:
        """Take ``names`` from the message where they are plain identifiers."""
        for name in names:
            value = obj.get(name)
            if isinstance(value, str) and _safe(value):
                self._fields[name] = value

    def verified(self, obj: dict[str, Any]) -> None:
        """The signature matched: the context's correlation fields can be believed."""
        self._verified = True
        context = obj.get("context")
        if isinstance(context, dict):
            self.claims(context, CONTEXT_FIELDS)

    def set(self, name: str, value: str) -> None:
        """Record a fact the registry established."""
        self._fields[name] = value

    def has(self, name: str) -> bool:
        """True when ``name`` is known."""
        return name in self._fields

    def fields(self) -> dict[str, str]:
        """A copy of the known fields."""
        return dict(self._fields)

    def validation(self, code: str, message: str, **extra: Any) -> PluginServiceError:
        """A VALIDATION error carrying the attribution."""
        return PluginServiceError.validation(code, message, details=self._details(extra))

    def permission(self, code: str, message: str, **extra: Any) -> PluginServiceError:
        """A PERMISSION error carrying the attribution."""
        return PluginServiceError.permission(code, message, details=self._details(extra))

    def _details(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {"attribution": self.fields(), "signature_verified": self._verified, **extra}
