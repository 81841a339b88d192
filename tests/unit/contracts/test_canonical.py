"""The canonical byte form: sorted keys, exact escapes, integers only, strict parsing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capgate.contracts.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalFormError,
    _check,
    _plainly_valid,
    canonical_bytes,
    loads_strict,
)


def test_sorts_keys_at_every_level_without_white_space() -> None:
    value = {"b": 1, "a": {"z": [3, {"y": True, "x": None}], "_": False}, "Z": "s"}
    assert canonical_bytes(value) == b'{"Z":"s","a":{"_":false,"z":[3,{"x":null,"y":true}]},"b":1}'


def test_escapes_exactly_the_json_specials_and_control_characters() -> None:
    value = 'q" b\\ s/ \b\f\n\r\t \x00\x1f \x7f é 日 🎉 \u2028'
    expected = '"q\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0000\\u001f \x7f é 日 🎉 \u2028"'
    assert canonical_bytes(value) == expected.encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [1.0, 0.5, float("nan"), float("inf"), MAX_SAFE_INTEGER + 1, -(MAX_SAFE_INTEGER + 1)],
)
def test_refuses_non_integers_and_unsafe_integers(value: Any) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes({"n": value})


def test_accepts_the_safe_integer_range() -> None:
    assert canonical_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]) == (
        b"[9007199254740991,-9007199254740991,0]"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"clé": 1}, "ASCII"),
        ({1: "x"}, "ASCII"),
        ("\ud800", "Unicode"),
        ({"when": object()}, "not a JSON value"),
    ],
)
def test_refuses_what_other_languages_cannot_reproduce(value: Any, problem: str) -> None:
    with pytest.raises(CanonicalFormError, match=problem):
        canonical_bytes(value)


def test_refuses_excessive_nesting() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(CanonicalFormError, match="nested deeper"):
        canonical_bytes(deep)


def test_loads_strict_refuses_duplicates_constants_and_bad_utf8() -> None:
    assert loads_strict(b'{"a": 1, "b": [true]}') == {"a": 1, "b": [True]}
    with pytest.raises(CanonicalFormError, match="duplicate key 'a'"):
        loads_strict('{"a": 1, "a": 2}')
    with pytest.raises(CanonicalFormError, match="duplicate key"):
        loads_strict('{"outer": {"k": 1, "k": 1}}')
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(CanonicalFormError, match="not allowed"):
            loads_strict(f'{{"n": {constant}}}')
    with pytest.raises(CanonicalFormError, match="UTF-8"):
        loads_strict(b'{"a": "\xff"}')


_json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True)
    | st.text()
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.tuples(inner)
    ),
    max_leaves=20,
)


@given(_json_like)
def test_the_fast_check_only_passes_what_the_full_check_accepts(value: object) -> None:
    """The fast path skips the path-building check; it must never accept more than it."""
    try:
        _check(value, 0, "$")
        accepted = True
    except CanonicalFormError:
        accepted = False
    if _plainly_valid(value, 0):
        assert accepted
    # And canonical_bytes agrees with the full check either way.
    if accepted:
        canonical_bytes(value)
    else:
        with pytest.raises(CanonicalFormError):
            canonical_bytes(value)
