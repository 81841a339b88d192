"""Payloads and results of the storage operations (service ``storage``).

A content hash is always written ``sha256:`` followed by 64 lower-case hex
digits, so that the algorithm is explicit and the value compares as text.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from capgate.contracts.constraints import Count, Matches
from capgate.contracts.options import ContractModel, OperationPayload
from capgate.contracts.types import Identifier, UtcDatetime

__all__ = [
    "TTL_MAX_SECONDS",
    "TTL_MIN_SECONDS",
    "ContentHash",
    "CreateReleaseLink",
    "HeadObject",
    "ObjectHead",
    "ObjectKey",
    "ReleaseLink",
]

TTL_MIN_SECONDS = 60
TTL_MAX_SECONDS = 7 * 24 * 3600

ContentHash = Annotated[
    str, Matches(r"sha256:[0-9a-f]{64}", "must be 'sha256:' and 64 lower-case hex digits")
]
"""``sha256:<64 lower-case hex digits>``."""

_SEGMENT = r"[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,254}"
ObjectKey = Annotated[
    str,
    Field(max_length=1024),
    Matches(rf"{_SEGMENT}(?:/{_SEGMENT})*", "must be a relative path without '.' segments"),
]
"""A relative path inside a bundle: segments of ``A-Z a-z 0-9 . _ -`` joined by '/'.

No segment starts with '.', so '.', '..' and hidden files are refused, and
there is no leading '/', empty segment or backslash.
"""


class CreateReleaseLink(OperationPayload):
    """``storage.create_release_link``: a time-limited download link for one recipient."""

    bundle_id: Identifier
    recipient_id: Identifier
    ttl_seconds: int = Field(
        strict=True,
        ge=TTL_MIN_SECONDS,
        le=TTL_MAX_SECONDS,
        description="Link lifetime in seconds: 60 (one minute) to 604800 (seven days).",
    )
    content_hash: ContentHash = Field(description="Hash of the content the link must serve.")


class HeadObject(OperationPayload):
    """``storage.head_object``: read an object's metadata without its content."""

    bundle_id: Identifier
    object_key: ObjectKey


class ReleaseLink(ContractModel):
    """Result of ``storage.create_release_link``."""

    link_id: Identifier
    url: Annotated[str, Field(max_length=2048), Matches(r"https?://\S+", "must be an http(s) URL")]
    expires_at: UtcDatetime
    content_hash: ContentHash


class ObjectHead(ContractModel):
    """Result of ``storage.head_object``."""

    etag: Annotated[str, Field(max_length=256), Matches(r"[!-~]*", "must be printable ASCII")]
    content_type: Annotated[
        str, Field(max_length=255), Matches(r"[!-~][ -~]*", "must be printable ASCII")
    ]
    length: Count = Field(description="Size in bytes.")
