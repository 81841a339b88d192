"""Provider settings per kind, validated when a provider is registered.

A plugin supplies these (secrets included) in ``email.register_provider``.
What a plugin must NOT choose lives with the deployment instead (see
:mod:`capgate.adapters.email.factories`): the Gmail endpoints, the folder
``.eml`` files go to and the TLS trust store, so a plugin cannot point the
worker at an internal address or an arbitrary path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from capgate.contracts.email_providers import ProviderKind
from capgate.contracts.errors import PluginServiceError

__all__ = [
    "EmlConfig",
    "GmailConfig",
    "SmtpConfig",
    "SmtpSecurity",
    "parse_provider_config",
]


class SmtpSecurity(StrEnum):
    """How the SMTP connection is protected."""

    STARTTLS = "starttls"  # plain connect, then STARTTLS (usually port 587)
    TLS = "tls"  # implicit TLS from the first byte (usually port 465)
    NONE = "none"  # no TLS: local relays and tests only


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SmtpConfig(_Config):
    """``kind: smtp``."""

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = Field(default=None, max_length=320)
    password: SecretStr | None = None
    sender: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class GmailConfig(_Config):
    """``kind: gmail`` (OAuth2 installed-app credentials of the sending account)."""

    client_id: str = Field(min_length=1, max_length=512)
    client_secret: SecretStr
    refresh_token: SecretStr
    sender: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class EmlConfig(_Config):
    """``kind: eml`` (development: files in the deployment's folder)."""

    sender: str = Field(
        default="capgate@localhost", min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    )


_MODELS: dict[ProviderKind, type[_Config]] = {
    ProviderKind.SMTP: SmtpConfig,
    ProviderKind.GMAIL: GmailConfig,
    ProviderKind.EML: EmlConfig,
}


def parse_provider_config(kind: ProviderKind, config: dict[str, Any]) -> BaseModel:
    """Validate ``config`` for ``kind``; VALIDATION ``invalid_provider_config`` otherwise.

    The error names the fields and what is wrong, never the values given
    (they may be secrets).
    """
    try:
        return _MODELS[kind].model_validate(config)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'config'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise PluginServiceError.validation(
            "invalid_provider_config",
            f"{kind.value} provider config is invalid: {'; '.join(problems)}",
            details={"fields": problems},
        ) from None
