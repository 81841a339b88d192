"""One validated settings object, read from the environment once at start-up.

Every variable has the prefix ``CAPGATE_`` (``CAPGATE_DATABASE_URL``, ...).
Adapters and workers receive what they need from this object; nothing else
reads the environment.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

__all__ = [
    "DEV_SECRET",
    "Environment",
    "ObjectStoreKind",
    "Settings",
    "SettingsInvalidError",
    "checked_settings",
    "describe_errors",
    "describe_settings_error",
    "load_settings",
]

# Used only in development when no secret is configured. Production refuses it.
DEV_SECRET = "capgate-development-secret-do-not-use-in-production"  # noqa: S105
_PLACEHOLDERS = {"", "changeme", "change-me", "secret", DEV_SECRET}
_MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    """Where capgate runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ObjectStoreKind(StrEnum):
    """Where ``storage.head_object`` reads objects from."""

    FILESYSTEM = "filesystem"
    S3 = "s3"


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
    visibility_timeout: int = Field(
        default=600,
        ge=10,
        description="Seconds before Redis hands an unacknowledged message to another worker.",
    )
    task_soft_time_limit: int = Field(default=90, ge=1, description="Seconds; raises in the task.")
    task_time_limit: int = Field(default=120, ge=1, description="Seconds; kills the task.")
    task_events: bool = Field(
        default=True,
        description="Send task events (what Flower shows); off saves a third of a worker's "
        "main-process time per command.",
    )
    grant_cache_ttl: float = Field(
        default=5.0, ge=0, description="Seconds a grant or key lookup is cached in a worker."
    )
    max_deliveries: int = Field(
        default=5, ge=1, description="Deliveries of one attempt before it is dead-lettered."
    )
    pump_interval: float = Field(
        default=1.0, gt=0, description="Seconds between scans of the retry schedule."
    )
    retry_policies: dict[str, Any] = Field(
        default_factory=dict,
        description='JSON: {"default": {...}, "operations": {"email.send": {...}}} overrides.',
    )
    object_store: ObjectStoreKind = Field(
        default=ObjectStoreKind.FILESYSTEM, description="filesystem (storage_root) or s3."
    )
    storage_root: Path = Field(
        default=Path("storage"), description="Folder of the filesystem object store."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO...); None means AWS."
    )
    s3_bucket: str | None = Field(default=None, description="Bucket; required for s3.")
    s3_prefix: str = Field(default="", description="Key prefix before <bundle id>/<key>.")
    s3_region: str | None = Field(
        default=None, description="Region; None means the AWS config chain's."
    )
    eml_folder: Path = Field(
        default=Path("outbox"),
        description="Where the development email provider writes .eml files.",
    )
    release_link_base_url: str = Field(
        default="http://localhost:8000/releases", description="Base URL of release links."
    )
    message_id_domain: str = Field(
        default="capgate.invalid",
        description="Domain of the Message-ID capgate derives per command.",
    )
    admin_capabilities: list[str] = Field(
        default_factory=list,
        description="Capability ids allowed to grant the admin role (JSON list).",
    )
    adapter_overrides: dict[str, str] = Field(
        default_factory=dict,
        description='JSON: {"users.assign_role": "module:attribute"} replaces a handler.',
    )
    dead_letter_hooks: list[str] = Field(
        default_factory=list,
        description='JSON list of "module:attribute" callables run when a command dies.',
    )
    secret: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Server secret: encrypts signing keys and provider secrets at rest.",
    )

    @field_validator(
        "database_url", "broker_url", "result_backend", "rate_limit_url", "s3_endpoint_url"
    )
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            # The value is not echoed: a mistyped URL may still hold a password.
            raise ValueError("not a URL (expected scheme://host...)")
        return value

    @field_validator("s3_bucket")
    @classmethod
    def _s3_needs_a_bucket(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field validator (object_store is validated first), so the error
        # names CAPGATE_S3_BUCKET.
        if info.data.get("object_store") is ObjectStoreKind.S3 and not value:
            raise ValueError("must be set when CAPGATE_OBJECT_STORE is s3")
        return value

    @field_validator("secret")
    @classmethod
    def _production_needs_a_real_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        # A field validator (environment is validated first), so the error
        # names CAPGATE_SECRET rather than the settings as a whole.
        raw = value.get_secret_value()
        if info.data.get("environment") is Environment.PRODUCTION and (
            raw.lower() in _PLACEHOLDERS or len(raw) < _MIN_SECRET_LENGTH
        ):
            raise ValueError(
                "must be set to a random value of at least "
                f"{_MIN_SECRET_LENGTH} characters in production "
                f"(for example: {secrets.token_urlsafe(32)!r})"
            )
        return value

    @model_validator(mode="after")
    def _limits_below_visibility_timeout(self) -> Settings:
        # A message still running when the visibility timeout passes is handed
        # to a second worker: an email would be sent twice.
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError(
                f"CAPGATE_TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit}) must be below "
                f"CAPGATE_TASK_TIME_LIMIT ({self.task_time_limit})"
            )
        if self.task_time_limit >= self.visibility_timeout:
            raise ValueError(
                f"CAPGATE_TASK_TIME_LIMIT ({self.task_time_limit}) must be below "
                f"CAPGATE_VISIBILITY_TIMEOUT ({self.visibility_timeout}), or a command still "
                "running is delivered to a second worker"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite (the embedded default)."""
        return self.database_url.startswith("sqlite")


def describe_errors(exc: ValidationError) -> str:
    """``CAPGATE_X: what is wrong`` for each error, on one line (values never echoed)."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        name = f"CAPGATE_{field.upper()}: " if field else ""
        parts.append(f"{name}{error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides win."""
    return Settings(**overrides)


class SettingsInvalidError(Exception):
    """Settings that cannot be used; ``str()`` is one line naming each variable."""


def describe_settings_error(exc: ValidationError | SettingsError) -> str:
    """One line naming each bad variable (values never echoed)."""
    if isinstance(exc, ValidationError):
        return f"invalid settings: {describe_errors(exc)}"
    # Malformed JSON in a list or mapping variable: pydantic-settings names
    # the field ("error parsing value for field "retry_policies" ...").
    field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
    cause = exc.__cause__ or exc
    name = f"CAPGATE_{field.upper()}" if field else "a CAPGATE_ variable"
    return f"invalid settings: {name} is not valid JSON ({cause})"


def checked_settings() -> Settings:
    """Settings from the environment, or :class:`SettingsInvalidError` in one line."""
    try:
        return load_settings()
    except (ValidationError, SettingsError) as exc:
        raise SettingsInvalidError(describe_settings_error(exc)) from None
