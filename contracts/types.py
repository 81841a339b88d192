"""Constrained field types shared by every contract model.

Ids are bounded in length and character set so that they are safe in logs,
queue names, SQL and file names, whatever the sending language.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints

__all__ = [
    "ID_MAX_LENGTH",
    "ID_PATTERN",
    "Identifier",
    "Name",
    "Reason",
    "UtcDatetime",
]

ID_MAX_LENGTH = 128
# Starts with a letter or digit; then letters, digits and . _ : -
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
NAME_PATTERN = r"^[a-z][a-z0-9_\-]*$"

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)
]
"""An opaque id: 1-128 characters of ``A-Z a-z 0-9 . _ : -``."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
"""A plugin name: lower-case letter first, then ``a-z 0-9 _ -``, at most 64."""

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
"""Free text an actor gives for an operation, at most 500 characters."""


def _to_utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, normalised to UTC. Naive datetimes are refused."""
