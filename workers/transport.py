"""Guards between the broker and the worker against messages that crash Celery itself.

Two shapes of hostile queue item stop a stock worker before any capgate code
runs (found by the hostile-input scenario, docs/reliability.md):

* an item that is not a Kombu message at all (``""``, ``"[]"``) raises out
  of kombu's Redis poll loop, and the worker exits;
* a body nested ~900 levels deep decodes, then cannot be pickled to the
  prefork pool (RecursionError), the worker exits, and the message, restored
  to the queue, kills the next worker.

:class:`Transport` drops the first kind; :func:`install_json_depth_limit`
makes the JSON decoder refuse bodies nested deeper than any capgate message
is, so Celery rejects them as undecodable instead of dying. Neither can be
attributed to a plugin (nothing in them is verified), so they are logged,
not audited.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.serialization import register
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps, loads

__all__ = ["MAX_BODY_DEPTH", "Transport", "install_json_depth_limit"]

log = logging.getLogger(__name__)

MAX_BODY_DEPTH = 64
"""A capgate task body is [args, kwargs, embed] with the envelope as a string."""


def _check_depth(value: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"message body nested deeper than {limit} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _bounded_loads(data: Any) -> Any:
    value = loads(data)
    _check_depth(value, MAX_BODY_DEPTH)
    return value


def install_json_depth_limit() -> None:
    """Replace kombu's JSON decoder with one that refuses over-deep bodies."""
    register(
        "json", dumps, _bounded_loads, content_type="application/json", content_encoding="utf-8"
    )


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, dropping queue items that are not messages."""

    def _brpop_read(self, **options: Any) -> Any:
        try:
            return super()._brpop_read(**options)  # type: ignore[misc]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # BRPOP already removed the item and it never reached "unacked":
            # dropping it here is all that is needed.
            log.warning("dropped a queue item that is not a message (%s)", type(exc).__name__)
            return True


class Transport(kombu_redis.Transport):
    """The Redis transport with :class:`Channel`."""

    Channel = Channel
