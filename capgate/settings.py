"""One validated settings object, read from the environment once at start-up.

Every variable has the prefix ``CAPGATE_`` (``CAPGATE_DATABASE_URL``, ...).
Adapters and workers receive what they need from this object; nothing else
reads the environment.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEV_SECRET", "Environment", "Settings", "load_settings"]

# Used only in development when no secret is configured. Production refuses it.
DEV_SECRET = "capgate-development-secret-do-not-use-in-production"  # noqa: S105
_PLACEHOLDERS = {"", "changeme", "change-me", "secret", DEV_SECRET}
_MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    """Where capgate runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """capgate's configuration. See the README for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="CAPGATE_", extra="ignore", frozen=True, validate_default=True
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = Field(
        default="sqlite:///capgate.db",
        description="SQLAlchemy URL of the audit/registry/core database.",
    )
    broker_url: str = Field(default="redis://localhost:6379/0", description="Celery broker.")
    result_backend: str = Field(
        default="redis://localhost:6379/1", description="Celery result backend."
    )
    rate_limit_url: str = Field(
        default="redis://localhost:6379/2",
        description="Redis holding rate limits and provider back-off state.",
    )
    secret: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Server secret: encrypts signing keys and provider secrets at rest.",
    )

    @field_validator("database_url", "broker_url", "result_backend", "rate_limit_url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"not a URL (expected scheme://...): {value!r}")
        return value

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        raw = self.secret.get_secret_value()
        if self.environment is Environment.PRODUCTION and (
            raw.lower() in _PLACEHOLDERS or len(raw) < _MIN_SECRET_LENGTH
        ):
            raise ValueError(
                "CAPGATE_SECRET must be set to a random value of at least "
                f"{_MIN_SECRET_LENGTH} characters in production "
                f"(for example: {secrets.token_urlsafe(32)!r})"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite (the embedded default)."""
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides win."""
    return Settings(**overrides)
