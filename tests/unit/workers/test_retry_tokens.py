"""Retry tokens of the wrong type or shape are simply not valid (issue 14, finding 7)."""

from __future__ import annotations

from typing import Any

import pytest

from capgate.workers.tokens import RetryTokens

TOKENS = RetryTokens("server secret")
COMMAND = "c-1"


def test_a_token_capgate_issued_names_its_attempt() -> None:
    assert TOKENS.attempt_of(COMMAND, TOKENS.issue(COMMAND, 3)) == 3


@pytest.mark.parametrize(
    "token",
    [
        7,
        {"attempt": 2},
        "\u00b2:" + "0" * 64,  # a superscript two: isdigit() but not a number int() reads
        "\u0662:" + "0" * 64,  # an Arabic-Indic two
        "2:\u00e9" * 3,  # a MAC that is not ASCII
    ],
    ids=["int", "dict", "superscript", "arabic-indic", "non-ascii-mac"],
)
def test_a_token_of_the_wrong_type_or_shape_is_not_valid(token: Any) -> None:
    assert TOKENS.attempt_of(COMMAND, token) is None
