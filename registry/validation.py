"""Checks of operator input: plugin names, identifiers and scope names."""

from __future__ import annotations

import re

from capgate.contracts.errors import PluginServiceError
from capgate.contracts.scopes import PluginServiceScope
from capgate.contracts.types import ID_MAX_LENGTH, ID_PATTERN, NAME_PATTERN

__all__ = ["check_identifier", "check_plugin_name", "scope_of"]

_NAME_MAX_LENGTH = 64


def check_plugin_name(name: str) -> None:
    """Refuse a name plugins could not put in their context (see ``contracts.types.Name``)."""
    if len(name) > _NAME_MAX_LENGTH or re.fullmatch(NAME_PATTERN, name) is None:
        raise PluginServiceError.validation(
            "invalid_plugin_name",
            f"invalid plugin name {name!r}: lower-case letter first, then a-z 0-9 _ -, "
            f"at most {_NAME_MAX_LENGTH} characters",
        )


def check_identifier(value: str, what: str) -> None:
    """Refuse an id plugins could not put in their context (see ``contracts.types``)."""
    if len(value) > ID_MAX_LENGTH or re.fullmatch(ID_PATTERN, value) is None:
        raise PluginServiceError.validation(
            "invalid_identifier",
            f"invalid {what} {value!r}: 1-{ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ : -",
        )


def scope_of(text: str) -> PluginServiceScope:
    """The scope named ``text``; ``unknown_scope`` lists the valid ones otherwise."""
    try:
        return PluginServiceScope(text)
    except ValueError:
        valid = ", ".join(scope.value for scope in PluginServiceScope)
        raise PluginServiceError.validation(
            "unknown_scope", f"unknown scope {text!r} (valid: {valid})"
        ) from None
