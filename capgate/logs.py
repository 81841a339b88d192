"""Logging for the worker and the CLI: JSON lines for machines, plain lines for people.

When the output is not a terminal (a container, a file, a log shipper) every
record is one JSON object on one line; on a terminal it is a readable line.
Only allow-listed fields from a record's ``extra`` are written (command id,
correlation id, plugin, operation, attempt, outcome, ...), so a body or a
secret cannot reach a log line by being passed along as an extra; URL
passwords in messages are masked as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "install_worker_logging",
    "mask_url",
    "scrub",
]

FIELDS = (
    "command_id",
    "correlation_id",
    "plugin",
    "operation",
    "attempt",
    "outcome",
    "error_code",
    "retry_delay_ms",
    "duration_ms",
    "task_id",
)
"""The ``extra`` fields a log line may carry; anything else a caller passes is dropped."""

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)


def mask_url(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@host`` replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


# Celery quotes a whole message (body, headers) when it cannot run it: an
# unregistered task, an invalid one, one that cannot be decoded. The first
# line (what went wrong) is kept, the quoted message is cut off.
_BODY_QUOTES = (
    "Did you remember to import the module",
    "The full contents of the message body was",
)
_DECODE_ERROR = "Can't decode message body:"
_WITHHELD = "[message body and headers withheld by capgate]"


def scrub(text: str) -> str:
    """``text`` with URL passwords masked and any quoted message body cut off."""
    quotes = [*_BODY_QUOTES, " [type:"] if _DECODE_ERROR in text else _BODY_QUOTES
    cut = min((i for i in (text.find(q) for q in quotes) if i >= 0), default=-1)
    if cut >= 0:
        text = f"{text[:cut].rstrip()} {_WITHHELD}"
    return mask_url(text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and allow-listed fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as a readable line (plus its traceback, if any)."""
        text = scrub(super().format(record))
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        if not extras:
            return text
        head, _, rest = text.partition("\n")
        return f"{head} [{extras}]" + (f"\n{rest}" if rest else "")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        """Ignored: the stream is always the current stderr."""


_MARK = "_capgate_handler"


def configure_logging(level: str | int = "INFO", *, json_lines: bool | None = None) -> None:
    """Send the root logger's records to stderr as JSON lines or readable text.

    ``json_lines`` None means: JSON unless stderr is a terminal. Calling it
    again replaces the handler it installed before (never anyone else's).
    """
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


def install_worker_logging(
    level: str | int | None = "INFO", *, json_lines: bool | None = None
) -> None:
    """Make Celery use :func:`configure_logging` in the worker and its pool processes.

    A receiver of Celery's ``setup_logging`` signal replaces Celery's own
    logging set-up (and its stdout redirection) wherever Celery would run it.
    ``level`` None takes the worker's ``--loglevel``.
    """
    from celery.signals import setup_logging

    def setup(loglevel: str | int | None = None, **_: Any) -> None:
        configure_logging(level or loglevel or "INFO", json_lines=json_lines)

    setup_logging.connect(setup, weak=False)
