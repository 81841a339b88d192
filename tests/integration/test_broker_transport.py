"""capgate's Redis transport when the broker goes away mid-delivery (docs/reliability.md, 3).

Each test runs a ``redis-server`` of its own, append-only like the compose
file's, so it can be shut down and started again with its data. kombu's own
transport is run beside capgate's: the tests that show a kombu 5.7 failure
assert it, so a kombu release that fixes it shows up here (and the
workaround in ``workers/transport.py`` can go).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.common import ignore_errors

from capgate.workers import transport as capgate_transport
from scenarios import kill_storm
from scenarios.servers import RedisServer
from tests.support.services import unavailable

pytestmark = pytest.mark.integration

CAPGATE = "capgate.workers.transport:Transport"
KOMBU = "redis"
EXCHANGE = Exchange("capgate.bundles", type="direct")
QUEUE = Queue("capgate.bundles", EXCHANGE, routing_key="capgate.bundles")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server (the test starts its own)")
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


def publish_one(url: str) -> None:
    """Publish one message the way the plugin client does (declared, then routed)."""
    with Connection(url) as connection:
        Producer(connection).publish(
            {"n": 1}, exchange=EXCHANGE, routing_key="capgate.bundles", declare=[QUEUE]
        )


def consumer(connection: Connection, received: list[Any]) -> Consumer:
    found = Consumer(
        connection.default_channel,
        [QUEUE],
        callbacks=[lambda body, message: received.append(message)],
        accept=["json"],
    )
    found.consume()
    return found


def drain(connection: Connection, timeout: float) -> None:
    try:
        connection.drain_events(timeout=timeout)
    except (TimeoutError, *connection.connection_errors):
        pass


def broker_state(url: str) -> tuple[int, int]:
    """(messages waiting in the queue, messages recorded as unacknowledged)."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen("capgate.bundles")), int(client.hlen("unacked"))
    finally:
        client.close()


# A consumer that dies (SIGKILL) right after taking the message from its queue,
# before its own record of it: the moment kombu's BRPOP-then-HSET loses it.
DIE_HOLDING = """
import os, signal, sys
from kombu import Connection, Consumer, Exchange, Queue
from kombu.transport import redis as kombu_redis
from capgate.workers import transport as capgate_transport

url, transport = sys.argv[1], sys.argv[2]
qos = capgate_transport.QoS if transport.startswith("capgate") else kombu_redis.QoS
qos.append = lambda self, message, tag: os.kill(os.getpid(), signal.SIGKILL)
exchange = Exchange("capgate.bundles", type="direct")
queue = Queue("capgate.bundles", exchange, routing_key="capgate.bundles")
with Connection(url, transport=transport) as connection:
    Consumer(connection.default_channel, [queue], accept=["json"]).consume()
    connection.drain_events(timeout=10)
"""


def die_holding_a_message(url: str, transport: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", DIE_HOLDING, url, transport], capture_output=True, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()


def test_kombu_loses_the_message_of_a_consumer_killed_between_take_and_record(
    server: RedisServer,
) -> None:
    publish_one(server.url(0))
    die_holding_a_message(server.url(0), KOMBU)
    assert broker_state(server.url(0)) == (0, 0)  # neither queued nor unacked: lost


def test_capgate_keeps_the_message_of_a_consumer_killed_right_after_taking_it(
    server: RedisServer,
) -> None:
    publish_one(server.url(0))
    die_holding_a_message(server.url(0), CAPGATE)
    assert broker_state(server.url(0)) == (0, 1)  # recorded as unacknowledged
    # Another worker restores it once the visibility timeout has passed.
    options = {"visibility_timeout": 1}
    received: list[Any] = []
    with Connection(server.url(0), transport=CAPGATE, transport_options=options) as connection:
        time.sleep(1.5)
        connection.default_channel.qos.restore_visible()
        consumer(connection, received)
        drain(connection, 5)
        assert [message.payload for message in received] == [{"n": 1}]
        assert received[0].delivery_info["redelivered"] is True
        received[0].ack()
    assert broker_state(server.url(0)) == (0, 0)


def test_capgate_keeps_a_message_taken_just_before_the_broker_goes_away(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker shuts down (and restarts from its append-only file) right after
    handing out a message: it comes back as unacknowledged, not lost."""
    publish_one(server.url(0))
    record = capgate_transport.QoS.append

    def shutdown_then_record(self: Any, message: Any, delivery_tag: str) -> None:
        server.shutdown()
        record(self, message, delivery_tag)

    monkeypatch.setattr(capgate_transport.QoS, "append", shutdown_then_record)
    connection = Connection(server.url(0), transport=CAPGATE)
    consumer(connection, [])
    drain(connection, 5)
    ignore_errors(connection, connection.collect)
    server.start()
    assert broker_state(server.url(0)) == (0, 1)


def test_an_empty_queue_is_asked_again_soon_not_blocked_on(server: RedisServer) -> None:
    """With nothing queued the consumer waits a little between asks, then takes a
    message published meanwhile."""
    received: list[Any] = []
    with Connection(server.url(0), transport=CAPGATE) as connection:
        consumer(connection, received)
        drain(connection, 0.2)
        assert received == []
        publish_one(server.url(0))
        drain(connection, 5)
        assert [message.payload for message in received] == [{"n": 1}]
        received[0].ack()
    assert broker_state(server.url(0)) == (0, 0)


def lose_the_broker_holding_a_message(server: RedisServer, transport: str) -> Connection:
    """A consumer holding one unacknowledged message, its BRPOP pending, loses the broker;
    Celery's consumer then collect()s its connection (consumer.py,
    on_connection_error_after_connected). Returns that connection."""
    publish_one(server.url(0))
    received: list[Any] = []
    connection = Connection(server.url(0), transport=transport)
    consumer(connection, received)
    drain(connection, 5)
    assert len(received) == 1
    # A second channel, created after the task channel, as Celery's Gossip and
    # Control steps have: closing it fails first and cuts the cleanup short.
    channel = connection.channel()
    fanout = Queue("gossip", Exchange("gossip", type="fanout"), auto_delete=True, channel=channel)
    Consumer(channel, [fanout], callbacks=[lambda body, message: None], no_ack=True).consume()
    drain(connection, 0.3)  # leaves a BRPOP waiting for its reply
    server.shutdown()
    connection.collect(socket_timeout=1)
    return connection


def test_kombu_closing_the_collected_connection_raises_attribute_error(
    server: RedisServer,
) -> None:
    connection = lose_the_broker_holding_a_message(server, KOMBU)
    with pytest.raises(AttributeError, match="hostname"):
        ignore_errors(connection, connection.close)  # what makes Celery's worker exit


def test_capgate_closing_the_collected_connection_is_a_connection_error(
    server: RedisServer,
) -> None:
    connection = lose_the_broker_holding_a_message(server, CAPGATE)
    ignore_errors(connection, connection.close)  # swallowed: the worker reconnects
    server.start()
    assert broker_state(server.url(0)) == (0, 1)  # still unacked: back after the timeout


def test_one_redis_client_serves_a_channels_commands_until_its_pool_changes(
    server: RedisServer,
) -> None:
    with Connection(server.url(0), transport=CAPGATE) as connection:
        channel = connection.default_channel
        producer = Producer(channel)
        for n in range(3):
            producer.publish(
                {"n": n}, exchange=EXCHANGE, routing_key="capgate.bundles", declare=[QUEUE]
            )
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        # A reconnect replaces the pool: the next command gets a client of the new pool.
        channel._disconnect_pools()
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool
            assert third.llen("capgate.bundles") == 3


def test_items_that_are_not_messages_are_dropped_without_a_trace(server: RedisServer) -> None:
    """Dropped whether or not the script could record them: nothing is left in
    ``unacked`` to come back after the visibility timeout."""
    tagged = {"delivery_tag": "t-1", "delivery_info": {"exchange": "", "routing_key": "q"}}
    undecodable = {"body": "%%% not base64", "properties": {**tagged, "body_encoding": "base64"}}
    items = ["", "[]", "{}", "not json", json.dumps(undecodable)]
    client = redis.Redis.from_url(server.url(0))
    publish_one(server.url(0))  # declares the queue's binding; taken last
    client.rpush("capgate.bundles", *items)  # the right end is taken first
    client.close()
    received: list[Any] = []
    with Connection(server.url(0), transport=CAPGATE) as connection:
        consumer(connection, received)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            drain(connection, 1)  # returns after each item, dropped ones too
        assert [message.payload for message in received] == [{"n": 1}]
        received[0].ack()
    assert broker_state(server.url(0)) == (0, 0)


def test_consumers_killed_while_taking_messages_lose_none() -> None:
    """30 SIGKILLs of a consumer busy taking messages (scenarios/kill_storm.py;
    Kombu's own transport lost 69 messages in 100 such kills)."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server (the test starts its own)")
    figures = kill_storm.run(kills=30, messages=10_000, transport="capgate")
    assert figures["kills_while_taking"] == 30, figures
    assert figures["lost"] == 0, figures
    assert figures["recorded_unacked"] > 0, figures  # the consumers did take some
