"""Celery's message headers, checked and tamed before Celery reads them.

A plugin that can push to a queue writes the Celery headers too, and Celery
trusts them: a ``timelimit`` of ``5`` raises inside the worker after the
pool's slot was taken, so two such messages stall a worker with ``-c 2``
(issue 14); ``[1e9, 1e9]`` overrides the worker's own limit; an ``eta`` a
year ahead is held in the worker's memory; an ``expires`` in the past is
revoked by Celery with no audit row. capgate owns all of these (its time
limits are the worker's settings, a command's expiry is its envelope's
``expires_at``, retries are scheduled by the retry pump), so
:func:`tame_headers` resets them to "not set" and refuses, as not a
message, an item whose identifying headers have the wrong shape.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_TASK_ID", "MAX_TASK_NAME", "MalformedHeadersError", "tame_headers"]

MAX_TASK_ID = 155
"""``commands.task_id`` holds this many characters; a longer id could never be recorded."""

MAX_TASK_NAME = 200
"""Longer than any capgate task name (``capgate.<queue>.<operation>``)."""

RESET: dict[str, Any] = {
    "timelimit": [None, None],
    "eta": None,
    "countdown": None,
    "expires": None,
    "shadow": None,
    "stamped_headers": None,
    "stamps": None,
    "retries": 0,
}
"""Headers through which a sender would set Celery's knobs, and the value capgate gives them."""

_OPTIONAL_IDS = ("root_id", "parent_id", "group")


class MalformedHeadersError(ValueError):
    """The item's Celery headers cannot belong to a command: dropped, not run."""


def _short_str(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def tame_headers(item: Any) -> None:
    """Check and reset, in place, the Celery headers of a kombu message ``item``.

    Only task messages (headers naming a ``task``) are checked. Raises
    :class:`MalformedHeadersError` when the task name or id is missing, of
    the wrong type or too long; afterwards every header in :data:`RESET`
    holds capgate's value, and ids Celery copies around are strings or None.
    """
    if not isinstance(item, dict):
        raise MalformedHeadersError("the item is not an object")
    headers = item.get("headers")
    if not isinstance(headers, dict) or "task" not in headers:
        return  # not a Celery task message (kombu's own, or one Celery rejects itself)
    if not _short_str(headers.get("task"), MAX_TASK_NAME):
        raise MalformedHeadersError("the task header is missing, not a string or too long")
    if not _short_str(headers.get("id"), MAX_TASK_ID):
        raise MalformedHeadersError("the id header is missing, not a string or too long")
    for name in _OPTIONAL_IDS:
        if not (headers.get(name) is None or _short_str(headers.get(name), MAX_TASK_ID)):
            headers[name] = None
    if not isinstance(headers.get("ignore_result", False), bool):
        headers["ignore_result"] = False
    headers.update({name: value for name, value in RESET.items() if name in headers})
    headers["timelimit"] = [None, None]
