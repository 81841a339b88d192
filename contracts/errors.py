"""The one error family that crosses a boundary: ``PluginServiceError``.

Every failure a plugin can see is a ``PluginServiceError`` of one of six
kinds. The kind decides what the worker does next (the retry policy is data,
see ``capgate.workers.policy``; these are its defaults)::

    PluginServiceError
    ├── VALIDATION   bad input, malformed command, idempotency conflict -> fail, no retry
    ├── NOT_FOUND    unknown user, resource, provider                   -> fail, no retry
    ├── PERMISSION   bad signature, unknown key, scope not granted      -> fail, no retry
    ├── RATE_LIMIT   a limit or a provider's 429; carries the wait       -> retry after the wait
    ├── RETRYABLE    temporary failure (timeout, 4xx SMTP, outage)       -> backoff, bounded
    └── FATAL        will not succeed by retrying (bad credentials)      -> dead letter

``code`` is a stable snake_case identifier (``scope_not_granted``) that
clients branch on; ``message`` is for humans and never holds a secret.
The JSON form (:meth:`PluginServiceError.to_dict`) survives the queue both
ways.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["ErrorKind", "ErrorModel", "PluginServiceError"]

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
_MESSAGE_MAX = 2000
_REASON_MAX = 500


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ErrorKind(StrEnum):
    """The six error kinds."""

    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION = "PERMISSION"
    RATE_LIMIT = "RATE_LIMIT"
    RETRYABLE = "RETRYABLE"
    FATAL = "FATAL"


_DEFAULT_STATUS = {
    ErrorKind.VALIDATION: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.PERMISSION: 403,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.RETRYABLE: 503,
    ErrorKind.FATAL: 500,
}


class ErrorModel(BaseModel):
    """The JSON shape of a ``PluginServiceError`` (also exported as JSON Schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ErrorKind
    code: Code
    message: str = Field(max_length=_MESSAGE_MAX)
    retry_after_ms: int | None = Field(default=None, ge=0, description="Retry delay hint.")
    reason: str | None = Field(default=None, max_length=_REASON_MAX)
    status: int = Field(ge=100, le=599, description="HTTP-like status for the kind.")
    details: dict[str, Any] = Field(default_factory=dict)


class PluginServiceError(Exception):
    """A failure of a plugin service call, with the kind that decides retries."""

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        *,
        retry_after_ms: int | None = None,
        reason: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        # args are (kind, code, message) so Celery's JSON result backend can
        # rebuild the error on the caller's side as PluginServiceError(*args).
        super().__init__(ErrorKind(kind).value, code, message)
        self.kind = ErrorKind(kind)
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.reason = reason
        self.status = status if status is not None else _DEFAULT_STATUS[self.kind]
        self.details = dict(details or {})

    def __repr__(self) -> str:
        hint = f", retry_after_ms={self.retry_after_ms}" if self.retry_after_ms is not None else ""
        return f"PluginServiceError({self.kind.value}, {self.code!r}, {self.message!r}{hint})"

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.code}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions with keyword-only arguments do not pickle or copy by
        # default; results backends and copy.copy() need this.
        return (_rebuild, (self.to_dict(),))

    @property
    def is_retryable(self) -> bool:
        """True for the kinds whose default policy is to try again."""
        return self.kind in (ErrorKind.RATE_LIMIT, ErrorKind.RETRYABLE)

    # -- one constructor per kind -------------------------------------------------

    @classmethod
    def validation(cls, code: str, message: str, **kw: Any) -> Self:
        """Bad input: the same command will never succeed."""
        return cls(ErrorKind.VALIDATION, code, message, **kw)

    @classmethod
    def not_found(cls, code: str, message: str, **kw: Any) -> Self:
        """The thing the command refers to does not exist."""
        return cls(ErrorKind.NOT_FOUND, code, message, **kw)

    @classmethod
    def permission(cls, code: str, message: str, **kw: Any) -> Self:
        """The caller is not who it claims or lacks a grant."""
        return cls(ErrorKind.PERMISSION, code, message, **kw)

    @classmethod
    def rate_limit(cls, code: str, message: str, *, retry_after_ms: int, **kw: Any) -> Self:
        """Too many calls; ``retry_after_ms`` says how long to wait."""
        return cls(ErrorKind.RATE_LIMIT, code, message, retry_after_ms=retry_after_ms, **kw)

    @classmethod
    def retryable(cls, code: str, message: str, **kw: Any) -> Self:
        """A temporary failure; trying again later may succeed."""
        return cls(ErrorKind.RETRYABLE, code, message, **kw)

    @classmethod
    def fatal(cls, code: str, message: str, **kw: Any) -> Self:
        """Will not succeed by retrying; goes to the dead letters."""
        return cls(ErrorKind.FATAL, code, message, **kw)

    # -- JSON form ----------------------------------------------------------------

    def to_model(self) -> ErrorModel:
        """The validated JSON model of this error (long texts are cut to the model's limits).

        Cutting rather than failing matters: this runs while a failure is
        being recorded, where a second error would lose the first.
        """
        return ErrorModel(
            kind=self.kind,
            code=self.code,
            message=_cut(self.message, _MESSAGE_MAX),
            retry_after_ms=self.retry_after_ms,
            reason=None if self.reason is None else _cut(self.reason, _REASON_MAX),
            status=self.status,
            details=self.details,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (what travels in results and audit rows)."""
        return self.to_model().model_dump(mode="json")

    def to_json(self) -> str:
        """The error as a JSON string."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PluginServiceError:
        """Rebuild an error from :meth:`to_dict` output (validated)."""
        model = ErrorModel.model_validate(data)
        return cls(
            model.kind,
            model.code,
            model.message,
            retry_after_ms=model.retry_after_ms,
            reason=model.reason,
            status=model.status,
            details=dict(model.details),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> PluginServiceError:
        """Rebuild an error from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def _rebuild(data: dict[str, Any]) -> PluginServiceError:
    return PluginServiceError.from_dict(data)
