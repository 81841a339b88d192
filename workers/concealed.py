"""A command's response as the caller gets it, and as logs and Flower show it.

Celery writes the task's return value into the worker log ("Task ...
succeeded in ...: <value>") and into the ``task-succeeded`` event that
Flower shows, as ``saferepr`` of the value. A response can hold what must
not appear there: a release link is a bearer secret (its token), user
records hold addresses. :class:`ConcealedResponse` is read like the response
dict and is stored in the result backend as exactly that dict (kombu's JSON
encoder calls ``__json__``), but its ``repr`` is what the audit row keeps of
the response (:func:`capgate.audit.redaction.summarize_response`: secrets
redacted, links by hash).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from capgate.audit.redaction import summarize_response

__all__ = ["ConcealedResponse"]


class ConcealedResponse(Mapping[str, Any]):
    """A read-only response whose ``repr`` is its redacted audit summary.

    Not a ``dict``: Celery's ``saferepr`` walks dicts item by item and would
    print the secrets; any other object it shows by ``repr``.
    """

    __slots__ = ("_response",)

    def __init__(self, response: Mapping[str, Any]) -> None:
        self._response = dict(response)

    def __getitem__(self, key: str) -> Any:
        return self._response[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._response)

    def __len__(self) -> int:
        return len(self._response)

    def __repr__(self) -> str:
        return repr(summarize_response("", self._response))

    def __json__(self) -> dict[str, Any]:
        """What kombu's JSON encoder stores: the response itself."""
        return self._response
