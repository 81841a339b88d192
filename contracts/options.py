"""The building blocks every operation payload shares: the option object.

Every operation takes an ``options`` object for the audit trail (who acted,
why, extra metadata, when it was requested), as the seed's option objects
do. ``ContractModel`` is the base of every payload and result model:
immutable, and an unknown field is an error rather than silently dropped.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from capgate.contracts.constraints import Matches, Scalar, max_json_bytes
from capgate.contracts.types import Identifier, Reason, UtcDatetime

__all__ = [
    "METADATA_MAX_BYTES",
    "METADATA_MAX_KEYS",
    "ContractModel",
    "Metadata",
    "OperationOptions",
    "OperationPayload",
]

METADATA_MAX_KEYS = 32
METADATA_MAX_BYTES = 4096
"""Largest canonical JSON form of a metadata object, in bytes."""

MetadataKey = Annotated[
    str, Matches(r"[A-Za-z0-9_.\-]{1,64}", "keys are 1-64 characters of A-Z a-z 0-9 _ . -")
]


Metadata = Annotated[
    dict[MetadataKey, Scalar],
    Field(max_length=METADATA_MAX_KEYS),
    # The byte bound covers the values too, which have no length limit of their own.
    max_json_bytes(METADATA_MAX_BYTES),
]
"""Flat key/value pairs: ASCII keys ``[A-Za-z0-9_.-]{1,64}``, at most 32 keys and 4 KiB."""


class ContractModel(BaseModel):
    """Base of every payload and result: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OperationOptions(ContractModel):
    """Audit information a plugin attaches to any operation (all optional)."""

    actor_id: Identifier | None = Field(
        default=None, description="The user on whose behalf the plugin acts, if any."
    )
    reason: Reason | None = Field(default=None, description="Why, in the actor's words.")
    audit_metadata: Metadata = Field(
        default_factory=dict, description="Extra key/value pairs copied into the audit row."
    )
    requested_at: UtcDatetime | None = Field(
        default=None, description="When the actor asked for the operation (UTC)."
    )


class OperationPayload(ContractModel):
    """Base of every operation payload: the shared ``options`` field."""

    options: OperationOptions = Field(
        default_factory=OperationOptions, description="Audit options (all optional)."
    )
