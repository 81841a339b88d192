"""Reusable field constraints whose errors read well and whose schema is exact.

pydantic's own ``pattern=`` reports a failure by printing the regular
expression, which tells a plugin author nothing; :class:`Matches` says what
was expected instead ("is not a valid email address") and still puts the
pattern in the exported JSON Schema. Patterns use only syntax that Python,
Rust and ECMAScript read the same way (no look-around).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from capgate.contracts.canonical import MAX_SAFE_INTEGER, canonical_bytes

__all__ = ["Count", "Matches", "Scalar", "max_json_bytes", "max_utf8_bytes"]


@dataclass(frozen=True, slots=True)
class Matches:
    """``Annotated`` marker: the whole string must match ``pattern``, else ``message``."""

    pattern: str
    message: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Run the inner validation, then the full match."""
        regex = re.compile(self.pattern)

        def check(value: str) -> str:
            if regex.fullmatch(value) is None:
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Publish the pattern so other languages validate the same way."""
        result = handler(schema)
        # JSON Schema patterns search rather than match: anchor the whole value.
        result["pattern"] = f"^(?:{self.pattern})$"
        return result


Count = Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INTEGER)]
"""A count or size: 0 to 2**53 - 1, exact in every language."""


def _json_scalar(value: Any) -> Any:
    # One clear message instead of one error per member of the union.
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int) and abs(value) <= MAX_SAFE_INTEGER:
        return value
    raise ValueError("must be a string, an integer within +/-(2**53-1), a boolean or null")


Scalar = Annotated[str | int | bool | None, BeforeValidator(_json_scalar)]
"""A JSON scalar without floats: string, safe integer, boolean or null."""


def _size_limit(limit: int, measure: Any, unit: str) -> AfterValidator:
    def check(value: Any) -> Any:
        size = measure(value)
        if size > limit:
            raise ValueError(f"must be at most {limit} bytes {unit}, got {size}")
        return value

    return AfterValidator(check)


def max_json_bytes(limit: int) -> AfterValidator:
    """``Annotated`` marker: the value's canonical JSON form is at most ``limit`` bytes."""
    return _size_limit(limit, lambda value: len(canonical_bytes(value)), "as JSON")


def max_utf8_bytes(limit: int) -> AfterValidator:
    """``Annotated`` marker: the string is at most ``limit`` bytes in UTF-8."""
    return _size_limit(limit, lambda value: len(value.encode("utf-8")), "as UTF-8")
