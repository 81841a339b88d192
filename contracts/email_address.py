"""A bare email address, checked without extra dependencies.

Only the ``local@domain`` form (RFC 5321 mailbox, ASCII): no display
names, no comments, no quoted local parts and no IP-literal domains. That
is what a plugin needs to address a message, and it leaves no room for a
header injection (CR/LF, commas, angle brackets).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from capgate.contracts.constraints import Matches

__all__ = ["EmailAddress"]

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+"


def _local_part_length(value: str) -> str:
    local = value.rpartition("@")[0]
    if len(local) > 64:
        raise ValueError("the part before '@' must be at most 64 characters")
    return value


EmailAddress = Annotated[
    str,
    Field(max_length=254, examples=["ops@example.com"]),
    Matches(EMAIL_PATTERN, "is not a valid email address (local@domain.tld, ASCII)"),
    AfterValidator(_local_part_length),
]
"""``local@domain.tld``: ASCII, at most 254 characters (64 before the '@')."""
