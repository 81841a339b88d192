"""Rate limits as operators write them: ``N/second``, ``N/minute`` or ``N/hour``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PERIODS", "RateLimit", "parse_rate"]

PERIODS = {"second": 1, "minute": 60, "hour": 3600}
"""Accepted period names and their length in seconds."""

_MAX_COUNT = 1_000_000
_PATTERN = re.compile(r"^\s*(\d{1,7})\s*/\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` calls per ``period_seconds``."""

    count: int
    period: str

    @property
    def period_seconds(self) -> int:
        """Length of the period in seconds."""
        return PERIODS[self.period]

    def __str__(self) -> str:
        return f"{self.count}/{self.period}"


def parse_rate(text: str) -> RateLimit:
    """Parse ``"100/minute"``; raise ``ValueError`` with a message saying what is wrong."""
    match = _PATTERN.match(text.lower())
    if match is None:
        raise ValueError(
            f"invalid rate {text!r}: expected COUNT/PERIOD, e.g. 100/minute "
            f"(PERIOD one of {', '.join(PERIODS)})"
        )
    count, period = int(match.group(1)), match.group(2)
    if period not in PERIODS:
        raise ValueError(
            f"invalid rate {text!r}: unknown period {period!r} (use {', '.join(PERIODS)})"
        )
    if not 1 <= count <= _MAX_COUNT:
        raise ValueError(f"invalid rate {text!r}: count must be between 1 and {_MAX_COUNT}")
    return RateLimit(count=count, period=period)
