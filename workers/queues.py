"""Operations run only from their own queue, ``capgate.<service_key>``.

Queues are per service so that operators can scale and isolate services
apart; a worker taking ``capgate.users`` must not run ``bundles.disable``
because someone pushed it there. The queue a message was really taken from
is stamped into its ``delivery_info`` by the transport
(:func:`stamp_source_queue`), since the ``delivery_info`` a sender writes
can say anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from capgate.contracts.catalog import CATALOG
from capgate.contracts.errors import PluginServiceError
from capgate.workers.deps import PipelineDeps
from capgate.workers.work import Work

__all__ = ["WRONG_QUEUE", "misrouted", "refuse_wrong_queue", "stamp_source_queue"]

WRONG_QUEUE = "wrong_queue"
_PREFIX = "capgate."


def stamp_source_queue(message: Any, queue: str) -> None:
    """Record in a decoded kombu message the queue it was taken from."""
    properties = message.get("properties") if isinstance(message, dict) else None
    if not isinstance(properties, dict):
        return
    info = properties.get("delivery_info")
    if not isinstance(info, dict):
        info = properties["delivery_info"] = {}
    info["routing_key"] = queue


def misrouted(task_name: str, delivery_info: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(expected, actual)`` queues when ``task_name`` arrived on another service's queue."""
    spec = CATALOG.get(task_name.removeprefix(_PREFIX))
    actual = delivery_info.get("routing_key")
    if spec is None or not isinstance(actual, str) or actual == spec.queue:
        return None
    return spec.queue, actual


def refuse_wrong_queue(expected: str, actual: str) -> Callable[[Work, PipelineDeps], None]:
    """A pipeline step that fails the command because it came from ``actual``."""

    def refuse(work: Work, deps: PipelineDeps) -> None:
        raise PluginServiceError.validation(
            WRONG_QUEUE,
            f"this operation runs only from the queue {expected}, not {actual}; "
            "publish it to its own queue",
            details={"expected_queue": expected, "queue": actual},
        )

    return refuse
