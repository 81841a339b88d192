"""capgate's Redis transport: kombu's, made safe against crashes and hostile queue items.

Its channel takes each message with the claim script of
:mod:`capgate.workers.claim`, which takes it off its queue and records it as
unacknowledged in one step: kombu's ``BRPOP`` followed by a separate record
loses the message of a worker killed in between.

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
from queue import Empty
from time import monotonic, sleep, time
from typing import Any

from kombu.serialization import register
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from capgate.workers.claim import CLAIM_SCRIPT, DECODE_LIMIT, IdleWait
from capgate.workers.headers import tame_headers
from capgate.workers.queues import stamp_source_queue

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


class QoS(kombu_redis.QoS):
    """kombu's Redis ack emulation, not recording again a message the claim script
    already recorded as unacknowledged (:mod:`capgate.workers.claim`)."""

    def append(self, message: Any, delivery_tag: str) -> None:
        if delivery_tag == self.channel._recorded_tag:  # type: ignore[attr-defined]
            virtual.QoS.append(self, message, delivery_tag)  # the local record only
        else:
            super().append(message, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        """A message given back (the audit store was unavailable) goes to the front of its
        queue, where the next take finds it; kombu puts it behind the whole backlog."""
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=False)  # RPUSH: taken next
            virtual.QoS.ack(self, delivery_tag)  # off the local record, as kombu does
        else:
            super().reject(delivery_tag, requeue=False)


class DetachedChannelError(RedisConnectionError):
    """The channel's connection was already closed: it cannot reach the broker any more.

    A connection error, so the ``ignore_errors`` around kombu's and Celery's
    cleanup swallows it and the worker reconnects.
    """


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, taking messages with the claim script instead of
    ``BRPOP`` (:mod:`capgate.workers.claim`), dropping queue items that are not
    messages, and failing as a connection error when used after its
    connection was closed.

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

    # -- taking messages: the claim script instead of BRPOP (capgate.workers.claim)

    _recorded_tag: str | None = None
    """The delivery tag of the message being delivered, already recorded by the script."""

    _waking: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._idle = IdleWait()
        self._noack_queues: set[str] = set()
        super().__init__(*args, **kwargs)

    def _brpop_start(self, timeout: float | None = None) -> None:
        kombu: Any = self  # kombu's channel internals are untyped
        if self._waking:
            return  # the wake-up timer set when the queues were found empty is pending
        if getattr(self.connection, "hub", None) is None:
            # A synchronous drain_events, no event loop: nothing else to do meanwhile.
            sleep(self._idle.remaining())
        queues = kombu._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        keys = [self.unacked_key, self.unacked_index_key]
        keys += [kombu._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]
        if self.global_keyprefix:
            keys = [f"{self.global_keyprefix}{key}" for key in keys]
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()
        self.client.connection.send_command(
            "EVAL", CLAIM_SCRIPT, len(keys), *keys, time(), DECODE_LIMIT
        )

    def _wait_idle(self, at_least: float = 0.0) -> None:
        """Wait before asking again. In the worker's event loop, a timer ends the
        wait: set here, while the loop handles the reply, and not when it next
        asks (on_poll_start), since the loop has by then chosen how long its
        next poll may block (up to a second) and a later timer would not
        shorten it."""
        self._idle.empty(at_least)
        hub = getattr(self.connection, "hub", None)
        if hub is not None:
            self._waking = True
            hub.call_later(self._idle.delay, self._woken)

    def _woken(self) -> None:
        self._waking = False

    def _brpop_read(self, **options: Any) -> Any:
        kombu: Any = self
        try:
            try:
                reply = self.client.parse_response(self.client.connection, "EVAL", **options)
            except kombu.connection_errors:
                self.client.connection.disconnect()
                raise
            except ResponseError as exc:
                # The server refused the script (out of memory, a read-only
                # replica, an ACL without EVAL): nothing was taken. Try again
                # in a second rather than stopping the worker.
                log.error("the broker refused to hand out messages: %s", exc)
                self._wait_idle(at_least=1.0)
                raise Empty() from exc
            if not reply:
                self._wait_idle()
                raise Empty()
            self._idle.found()
            key, item, *recorded = reply
            dest = bytes_to_str(key)[len(self.global_keyprefix or "") :]
            dest = dest.rsplit(self.sep, 1)[0]
            kombu._queue_cycle.rotate(dest)
            self._deliver_claimed(item, dest, bytes_to_str(recorded[0]) if recorded else None)
            return True
        finally:
            self._in_poll = None
            kombu._flush_brpop_reauth()

    def basic_consume(self, queue: str, no_ack: bool = False, *args: Any, **kwargs: Any) -> Any:
        """Consume ``queue``, remembering whether its messages are acknowledged at all."""
        if no_ack:
            self._noack_queues.add(queue)
        else:
            self._noack_queues.discard(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_cancel(self, consumer_tag: str) -> Any:
        """Stop consuming; the queue's no-ack mark goes with its consumer."""
        queue = self._tag_to_queue.get(consumer_tag)
        if queue is not None:
            self._noack_queues.discard(queue)
        return super().basic_cancel(consumer_tag)

    def _deliver_claimed(self, item: bytes, queue: str, tag: str | None) -> None:
        if tag is not None and queue in self._noack_queues:
            # A no-ack message (Celery's mingle and pidbox replies) is never
            # acknowledged: the script's record of it would sit in ``unacked``
            # for a whole visibility timeout and then be delivered again.
            noack_qos: Any = self.qos
            noack_qos._remove_from_indices(tag).execute()
            tag = None
        qos: Any = self.qos
        before = set(qos._delivered)
        self._recorded_tag = tag
        try:
            message = loads(bytes_to_str(item))
            tame_headers(message)
            stamp_source_queue(message, queue)
            self.connection._deliver(message, queue)
        except (ValueError, TypeError, LookupError, AttributeError, ArithmeticError) as exc:
            # Not a message kombu or Celery can read (not JSON, malformed
            # properties, or Celery headers its consumer trips on: a
            # ``timelimit`` of 5, no ``id``): drop it. It may already be
            # recorded, locally (holding a prefetch slot) and in ``unacked``
            # (coming back after every visibility timeout): remove both, or
            # two such items stall a worker with -c 2 (issue 14).
            self._forget(tag, before, qos)
            log.warning("dropped a queue item that is not a message (%s)", type(exc).__name__)
        finally:
            self._recorded_tag = None

    @staticmethod
    def _forget(tag: str | None, before: set[str], qos: Any) -> None:
        """Remove the records of a dropped item: the script's and any kombu made."""
        added = [t for t in qos._delivered if t not in before]
        for delivery_tag in added:
            qos.ack(delivery_tag)  # removes the local record and the unacked entry
        if tag is not None and tag not in added:
            qos._remove_from_indices(tag).execute()


class Transport(kombu_redis.Transport):
    """The Redis transport with :class:`Channel`."""

    Channel = Channel

    hub: Any = None
    """The event loop driving this transport (a worker's), if any."""

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        self.hub = loop
        super().register_with_event_loop(connection, loop)
