"""Step: validate the payload against the operation's model."""

from __future__ import annotations

from capgate.contracts.catalog import validate_payload
from capgate.workers.deps import PipelineDeps
from capgate.workers.work import Work

__all__ = ["validate"]


def validate(work: Work, deps: PipelineDeps) -> None:
    """Parse the payload; a VALIDATION error names each bad field."""
    assert work.envelope is not None
    work.payload = validate_payload(work.envelope.operation, work.envelope.payload)
