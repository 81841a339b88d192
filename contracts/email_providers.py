"""Payloads and results of the email provider operations (service ``email_providers``).

A provider's ``config`` holds secrets (an SMTP password, an OAuth client
secret or refresh token). It is kept out of ``repr()`` so it never reaches a
log line, and no result model carries it back.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field

from capgate.contracts.canonical import MAX_SAFE_INTEGER
from capgate.contracts.constraints import Matches, max_json_bytes
from capgate.contracts.options import ContractModel, OperationPayload
from capgate.contracts.types import Identifier, Name

__all__ = [
    "CONFIG_MAX_BYTES",
    "SECRET_CONFIG_KEYS",
    "ListProviders",
    "ProviderConfig",
    "ProviderKind",
    "ProviderList",
    "ProviderName",
    "ProviderSummary",
    "RegisterProvider",
    "SetActiveProvider",
    "UnregisterProvider",
]

CONFIG_MAX_KEYS = 32
CONFIG_MAX_BYTES = 16 * 1024
SECRET_CONFIG_KEYS = frozenset(
    {"password", "client_secret", "refresh_token", "access_token", "api_key", "token"}
)
"""Config keys whose values are secrets: stored encrypted, never returned or logged."""

ProviderName = Name
"""A provider's name: lower-case letter first, then ``a-z 0-9 _ -``, at most 64."""


class ProviderKind(StrEnum):
    """How a provider delivers mail."""

    SMTP = "smtp"
    GMAIL = "gmail"
    EML = "eml"  # writes .eml files; for development and tests


ConfigKey = Annotated[
    str, Matches(r"[A-Za-z][A-Za-z0-9_]{0,63}", "keys are a letter then A-Z a-z 0-9 _, <= 64")
]
CONFIG_VALUE_MAX_CHARS = 4096


def _config_value(value: object) -> object:
    # One clear message instead of one error per member of the union.
    if isinstance(value, str) and len(value) > CONFIG_VALUE_MAX_CHARS:
        raise ValueError(f"strings must be at most {CONFIG_VALUE_MAX_CHARS} characters")
    if isinstance(value, (str, bool)) or (
        isinstance(value, int) and abs(value) <= MAX_SAFE_INTEGER
    ):
        return value
    raise ValueError("must be a string, an integer within +/-(2**53-1) or a boolean")


ConfigValue = Annotated[
    Annotated[str, Field(max_length=CONFIG_VALUE_MAX_CHARS)] | int | bool,
    BeforeValidator(_config_value),
]


ProviderConfig = Annotated[
    dict[ConfigKey, ConfigValue],
    Field(max_length=CONFIG_MAX_KEYS),
    max_json_bytes(CONFIG_MAX_BYTES),
]
"""Provider settings: at most 32 keys, values str (<= 4096 chars), int or bool, 16 KiB."""


class RegisterProvider(OperationPayload):
    """``email.register_provider``: add a provider; the calling plugin owns it."""

    name: ProviderName
    kind: ProviderKind
    config: ProviderConfig = Field(
        default_factory=dict,
        repr=False,
        description="Kind-specific settings (host, port, username, password, client_id...).",
    )


class UnregisterProvider(OperationPayload):
    """``email.unregister_provider``: remove a provider (only its owner may)."""

    name: ProviderName


class SetActiveProvider(OperationPayload):
    """``email.set_active_provider``: make a provider the default for ``email.send``."""

    name: ProviderName


class ListProviders(OperationPayload):
    """``email.list_providers``: list registered providers (no secrets)."""


class ProviderSummary(ContractModel):
    """One provider as listed: never its config, which may hold secrets."""

    name: ProviderName
    kind: ProviderKind
    owner_plugin_id: Identifier = Field(description="The plugin that registered it.")
    active: bool = Field(description="True for the provider ``email.send`` uses by default.")


class ProviderList(ContractModel):
    """Result of ``email.list_providers``."""

    providers: list[ProviderSummary] = Field(max_length=1000)
