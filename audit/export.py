"""Write audit rows as a table, JSON lines or CSV, one row at a time.

Writers take any iterable of row dicts (:func:`capgate.audit.query.iter_rows`
streams them), so memory stays flat however many rows there are. A table
has fixed column widths for the same reason: it never looks ahead.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from capgate.audit.chain import HASHED_FIELDS

__all__ = ["COLUMNS", "FORMATS", "Progress", "write_rows"]

COLUMNS: tuple[str, ...] = ("id", *HASHED_FIELDS, "row_hash")
"""Every column, in export order."""

FORMATS = ("table", "jsonl", "csv")

_TABLE = (
    ("id", 8),
    ("recorded_at", 23),
    ("outcome", 15),
    ("operation", 24),
    ("plugin_name", 16),
    ("capability_key", 14),
    ("command_id", 36),
    ("attempt", 3),
    ("error_code", 20),
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _cell(value: Any, width: int) -> str:
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
    else:
        text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "~"


def table_lines(rows: Iterable[dict[str, Any]], *, header: bool = True) -> Iterator[str]:
    """Fixed-width lines, a header first."""
    if header:
        yield "  ".join(name[:width].ljust(width) for name, width in _TABLE).rstrip()
    for row in rows:
        yield "  ".join(_cell(row.get(name), width).ljust(width) for name, width in _TABLE).rstrip()


def write_rows(
    rows: Iterable[dict[str, Any]], out: TextIO, fmt: str, *, header: bool = True
) -> int:
    """Write ``rows`` to ``out`` in ``fmt`` (table, jsonl or csv); return how many.

    ``header=False`` continues an earlier output (``tail --follow``).
    """
    written = 0
    if fmt == "table":
        for line in table_lines(rows, header=header):
            out.write(line + "\n")
            written += 1
        return written - header
    if fmt == "jsonl":
        for row in rows:
            document = {name: _plain(row.get(name)) for name in COLUMNS}
            out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
        return written
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        if header:
            writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_csv_value(row.get(name)) for name in COLUMNS])
            written += 1
        return written
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _plain(value)


class Progress:
    """Counts rows passing through and reports on ``stream`` when it is a terminal."""

    def __init__(self, stream: TextIO, *, total: int | None = None, every: int = 10_000) -> None:
        """Report every ``every`` rows; ``total`` adds a percentage."""
        self._stream = stream
        self._total = total
        self._every = every
        self.count = 0
        self.enabled = stream.isatty()

    def wrap(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield ``rows`` unchanged, counting them."""
        for row in rows:
            self.count += 1
            if self.enabled and self.count % self._every == 0:
                self._show()
            yield row
        if self.enabled:
            self._show()
            self._stream.write("\n")

    def _show(self) -> None:
        total = (
            f"/{self._total} ({100 * self.count // max(self._total, 1)}%)" if self._total else ""
        )
        self._stream.write(f"\rexported {self.count}{total} rows")
        self._stream.flush()
