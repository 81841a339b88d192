"""The canonical byte form of a JSON value, the input to command signing.

Rules (``docs/wire-format.md`` states them for other languages):

* objects: keys sorted by code point, no duplicates; keys must be ASCII so
  that every language sorts them the same way;
* no insignificant white space: ``,`` and ``:`` separators only;
* strings: UTF-8, escaping only ``"``, ``\\``, and control characters below
  U+0020 (``\\b \\f \\n \\r \\t`` short forms, the rest as ``\\u00xx``);
* numbers: integers only, within +/-(2**53 - 1); floats, NaN and infinities
  are refused because languages print them differently;
* ``true``, ``false``, ``null`` as themselves.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_SAFE_INTEGER", "CanonicalFormError", "canonical_bytes", "loads_strict"]

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32


class CanonicalFormError(ValueError):
    """The value cannot be put in canonical form (float, huge int, non-ASCII key...)."""


def _check(value: Any, depth: int, path: str) -> None:
    if depth > MAX_DEPTH:
        raise CanonicalFormError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            _check_string(value, path)
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalFormError(f"{path}: integer outside +/-(2**53-1)")
        return
    if isinstance(value, float):
        raise CanonicalFormError(f"{path}: non-integer numbers are not allowed")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise CanonicalFormError(f"{path}: object keys must be ASCII strings")
            _check(item, depth + 1, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, depth + 1, f"{path}[{index}]")
        return
    raise CanonicalFormError(f"{path}: {type(value).__name__} is not a JSON value")


def _check_string(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalFormError(f"{path}: string is not valid Unicode") from exc


def _plainly_valid(value: Any, depth: int) -> bool:
    """True when ``value`` is plainly canonical-safe; False means "ask :func:`_check`".

    The common case, checked without building a path string per value
    (which made up most of the cost of signing). Exact types only: a
    subclass, or anything wrong, falls through to :func:`_check`, which
    accepts or refuses it with the path of the offending value.
    """
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if kind is str:
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if value is None or kind is bool:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict:
        return _plain_object(value, depth)
    if kind is list or kind is tuple:
        return all(_plainly_valid(item, depth + 1) for item in value)
    return False


def _plain_object(value: dict[Any, Any], depth: int) -> bool:
    for key, item in value.items():
        if type(key) is not str or not key.isascii():
            return False
        if type(item) is str and item.isascii():  # most values: no call
            continue
        if not _plainly_valid(item, depth + 1):
            return False
    return True


def canonical_bytes(value: Any) -> bytes:
    """Return the canonical UTF-8 JSON bytes of ``value`` (see module docstring)."""
    if not _plainly_valid(value, 0):
        _check(value, 0, "$")
    text = json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise CanonicalFormError(f"duplicate key {key!r}")
        result[key] = item
    return result


def _no_constants(name: str) -> Any:
    raise CanonicalFormError(f"{name} is not allowed")


def loads_strict(data: str | bytes) -> Any:
    """Parse JSON refusing duplicate keys, NaN/Infinity and invalid UTF-8.

    A duplicate key is how a forged message could show one value to the
    signature check and another to the code that acts on it.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanonicalFormError("not valid UTF-8") from exc
    return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
