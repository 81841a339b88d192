"""Rate limits are parsed from N/second|minute|hour, with clear errors."""

from __future__ import annotations

import pytest

from capgate.registry.rates import RateLimit, parse_rate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100/minute", RateLimit(100, "minute")),
        ("1/second", RateLimit(1, "second")),
        (" 5 / HOUR ", RateLimit(5, "hour")),
    ],
)
def test_valid_rates(text: str, expected: RateLimit) -> None:
    assert parse_rate(text) == expected


def test_period_seconds_and_text_form() -> None:
    rate = parse_rate("100/minute")
    assert rate.period_seconds == 60
    assert str(rate) == "100/minute"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("100", "expected COUNT/PERIOD"),
        ("abc/minute", "expected COUNT/PERIOD"),
        ("-1/minute", "expected COUNT/PERIOD"),
        ("10/fortnight", "unknown period 'fortnight'"),
        ("0/minute", "between 1 and"),
        ("99999999/minute", "expected COUNT/PERIOD"),
    ],
)
def test_invalid_rates_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_rate(text)
