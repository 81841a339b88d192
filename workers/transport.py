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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.serialization import register
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps, loads
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["MAX_BODY_DEPTH", "DetachedChannelError", "QoS", "Transport", "install_json_depth_limit"]

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


_UNRECORDED: list[tuple[Any, str, str]] = []
"""Messages this process took off a queue whose unacked record the broker never got:
(payload, exchange, routing key). Process-wide, as Celery opens a new connection
(and transport) after losing one."""


class QoS(kombu_redis.QoS):
    """kombu's Redis ack emulation, keeping a message it could not record as unacked.

    ``BRPOP`` removes a message from its queue; kombu then records it in the
    ``unacked`` hash with a second command. If the broker goes away between
    the two (it was restarted, as in the broker-restart scenario), the
    message is in neither place and is lost for good, although it never
    reached the task. This keeps it in the process and puts it back on its
    queue as soon as a channel connects again (:meth:`Channel.__init__`).
    """

    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)
        except self.channel.connection_errors:  # type: ignore[attr-defined]
            info = message.delivery_info
            _UNRECORDED.append((message._raw, info["exchange"], info["routing_key"]))
            log.warning(
                "broker lost before message %s was recorded as unacknowledged; "
                "it is put back on its queue when the broker is reachable again",
                delivery_tag,
            )
            raise


class DetachedChannelError(RedisConnectionError):
    """The channel's connection was already closed: it cannot reach the broker any more.

    A connection error, so the ``ignore_errors`` around kombu's and Celery's
    cleanup swallows it and the worker reconnects.
    """


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, dropping queue items that are not messages, and
    failing as a connection error when used after its connection was closed.

    When the broker goes away with a message unacknowledged, Celery (5.7)
    first ``collect()``s the connection, which detaches the transport
    (``transport.client = None``) without having closed the task channel (its
    close is cut short by the dead socket), then ``close()``s it. That close
    restores the unacknowledged messages, which builds a new connection pool
    from ``transport.client.hostname``: ``AttributeError``, which is not a
    connection error, so it escapes ``ignore_errors`` and the worker exits
    ("Unrecoverable error"). The same kombu path as celery/kombu#970 and
    #582. Raising :class:`DetachedChannelError` instead keeps the worker up; the
    messages stay in the broker's ``unacked`` hash and come back after the
    visibility timeout, as for a crashed worker.
    """

    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # connects (PING) or raises
        if _UNRECORDED:
            self._put_back_unrecorded()

    def _put_back_unrecorded(self) -> None:
        """Put the messages :class:`QoS` could not record back on their queues (as
        redelivered, in case the broker did record one whose reply was lost)."""
        pending = list(_UNRECORDED)
        with self.conn_or_acquire() as client, client.pipeline() as pipe:
            for payload, exchange, routing_key in pending:
                self._do_restore_message(payload, exchange, routing_key, pipe)  # type: ignore[attr-defined]
            pipe.execute()
        del _UNRECORDED[: len(pending)]
        log.warning("put %d unrecorded message(s) back on their queues", len(pending))

    def _connparams(self, asynchronous: bool = False) -> Any:
        transport = self.connection
        if transport is None or transport.client is None:
            raise DetachedChannelError("the channel's broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]

    _command_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """The client for one command: kombu builds a new ``redis.Redis`` for each.

        Building one fills its table of response callbacks (about 170
        entries) every time: 14% of a publish, and paid on every
        acknowledgement. One client per channel and connection pool does the
        same, since each command still takes its connection from the pool
        (``redis.Redis`` is safe to share); a new pool (after a reconnect)
        gets a new client.
        """
        if client:
            yield client
            return
        pool = self.pool
        cached = self._command_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._command_client = self._create_client()  # type: ignore[attr-defined]
        yield cached

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
