"""The CLI's one error boundary: any failure becomes one line and an exit code.

A command that fails because of its settings, its database or its broker
prints one line naming the cause and the fix, never a traceback. Each kind
has its own exit code so scripts can tell them apart. ``capgate --debug``
or ``CAPGATE_DEBUG=1`` lets the original exception through, traceback and all.
"""

from __future__ import annotations

from typing import IO, Any

import click

__all__ = [
    "EXIT_BROKER",
    "EXIT_DATABASE",
    "EXIT_NOT_MIGRATED",
    "EXIT_SETTINGS",
    "CliFailure",
    "database_failure",
    "describe",
    "settings_failure",
]

EXIT_SETTINGS = 3
EXIT_DATABASE = 4
EXIT_NOT_MIGRATED = 5
EXIT_BROKER = 6

# What each database driver says when a table capgate needs is not there.
_MISSING_TABLE = ("no such table", "undefinedtable", "does not exist")


class CliFailure(click.ClickException):
    """A one-line failure with its own exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # click declares exit_code a class variable; one per instance is what we need.
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``Error: <message>`` on stderr, the message on one line."""
        click.echo(f"Error: {' '.join(self.format_message().split())}", err=True, file=file)


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends "[SQL: ...]" and a background link on later lines.
    text = str(getattr(exc, "orig", None) or exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def settings_failure(exc: Exception) -> CliFailure:
    """A settings error (pydantic validation, JSON parsing, or already described)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from capgate.settings import describe_settings_error

    if isinstance(exc, ValidationError | SettingsError):
        reason = describe_settings_error(exc)
    else:
        reason = str(exc)
    return CliFailure(f"{reason}; fix it (see Settings in the README)", EXIT_SETTINGS)


def database_failure(exc: Exception) -> CliFailure:
    """A database error: not reachable or missing, or not migrated yet."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    detail = _first_line(exc)
    lowered = f"{type(getattr(exc, 'orig', exc)).__name__} {detail}".lower()
    connecting = "connection" in lowered or "connect" in lowered
    missing_table = any(sign in lowered for sign in _MISSING_TABLE)
    if isinstance(exc, (OperationalError, ProgrammingError)) and missing_table and not connecting:
        return CliFailure(
            f"the database is not migrated ({detail}); run 'capgate db upgrade'",
            EXIT_NOT_MIGRATED,
        )
    if isinstance(exc, OperationalError):
        return CliFailure(
            f"cannot use the database: {detail}; check CAPGATE_DATABASE_URL and that "
            "the server is running and the database exists",
            EXIT_DATABASE,
        )
    return CliFailure(f"database error: {detail}", EXIT_DATABASE)


def describe(exc: Exception) -> CliFailure | None:
    """The one-line failure for ``exc``, or None when it is not a known kind."""
    from kombu.exceptions import OperationalError as BrokerError
    from pydantic import ValidationError
    from pydantic_settings import SettingsError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from sqlalchemy.exc import SQLAlchemyError

    from capgate.settings import SettingsInvalidError

    if isinstance(exc, (ValidationError, SettingsError, SettingsInvalidError)):
        return settings_failure(exc)
    if isinstance(exc, SQLAlchemyError):
        return database_failure(exc)
    if isinstance(exc, (BrokerError, RedisConnectionError)):
        return CliFailure(
            f"cannot reach the broker: {_first_line(exc)}; check CAPGATE_BROKER_URL "
            "(and CAPGATE_RESULT_BACKEND) and that Redis is running",
            EXIT_BROKER,
        )
    return None
