"""Small helpers every handler uses: its typed payload and translated DB errors.

``payload_of`` turns the pipeline's ``BaseModel`` into the operation's own
model (a mismatch is a wiring bug, FATAL). ``translate_db_errors`` is the
SQLAlchemy error table of the database-backed adapters:

============================  =========  ========================
SQLAlchemy exception          kind       code
============================  =========  ========================
``IntegrityError``            RETRYABLE  ``conflicting_change``
``OperationalError``          RETRYABLE  ``database_unavailable``
any other ``SQLAlchemyError``  FATAL      ``database_error``
============================  =========  ========================

An ``IntegrityError`` here means a concurrent command changed the same row
(for example two providers made active at once): the retry sees the winner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from capgate.adapters.base import Invocation
from capgate.contracts.errors import ErrorKind, PluginServiceError

__all__ = ["DB_EXCEPTIONS", "payload_of", "translate_db_errors"]

P = TypeVar("P", bound=BaseModel)

DB_EXCEPTIONS: tuple[tuple[type[SQLAlchemyError], ErrorKind, str], ...] = (
    (IntegrityError, ErrorKind.RETRYABLE, "conflicting_change"),
    (OperationalError, ErrorKind.RETRYABLE, "database_unavailable"),
    (SQLAlchemyError, ErrorKind.FATAL, "database_error"),
)


def payload_of(invocation: Invocation, model: type[P]) -> P:
    """The invocation's payload as ``model``; FATAL ``payload_mismatch`` otherwise."""
    payload = invocation.payload
    if not isinstance(payload, model):
        raise PluginServiceError.fatal(
            "payload_mismatch",
            f"{invocation.operation} expects {model.__name__}, got {type(payload).__name__}",
        )
    return payload


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Turn a SQLAlchemy failure inside the block into ``PluginServiceError``."""
    try:
        yield
    except SQLAlchemyError as exc:
        for exc_type, kind, code in DB_EXCEPTIONS:
            if isinstance(exc, exc_type):
                # The statement text may hold row values: name only the class.
                raise PluginServiceError(
                    kind, code, f"database error: {type(exc).__name__}"
                ) from exc
        raise  # unreachable: SQLAlchemyError is the last row
