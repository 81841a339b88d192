"""A command returned to the queue because the store was unavailable is not punished.

It spends none of its attempts (a terminated connection under the adapter's
read is the store failing, not the command), and it goes back to the front
of its queue, so it runs next instead of behind the whole backlog.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue
from sqlalchemy import select, text

from capgate.adapters.base import AdapterResult, Invocation
from capgate.adapters.payloads import translate_db_errors
from capgate.audit.schema import AuditEventRow
from capgate.workers.pipeline import StoreUnavailableError
from capgate.workers.work import VerdictKind
from tests.support.postgres_world import drop_worker_connections, postgres_world
from tests.support.world import World, delivery

pytestmark = pytest.mark.integration

OP = "users.activate"
CAPGATE = "capgate.workers.transport:Transport"
EXCHANGE = Exchange("capgate.requeue_test", type="direct")
BROKER_DB = 12  # a database of its own: the test flushes it
QUEUE = Queue("capgate.requeue_test", EXCHANGE, routing_key="capgate.requeue_test")


@pytest.fixture
def world(postgres_url: str) -> Iterator[World]:
    with postgres_world(postgres_url) as world:
        yield world


def test_a_connection_terminated_under_the_adapter_spends_no_attempt(world: World) -> None:
    plugin = world.add_plugin("alpha", "admin", {"users:write": None})
    calls: list[int] = []

    def handler(invocation: Invocation) -> AdapterResult:
        calls.append(invocation.attempt)
        if len(calls) == 1:
            drop_worker_connections(world)  # between the claim and the adapter's read
        with translate_db_errors():
            invocation.session.execute(text("SELECT 1"))
        return AdapterResult({"active": True})

    pipeline = world.pipeline({OP: handler})
    body = plugin.command(OP, {"user_id": "u-1"})
    with pytest.raises(StoreUnavailableError):
        pipeline.run(delivery(body, OP))
    verdict = pipeline.run(delivery(body, OP, redelivered=True))
    assert verdict.kind is VerdictKind.SUCCEEDED and verdict.attempt == 1
    assert calls == [1, 1]
    with world.runtime.sessions() as session:
        rows = session.execute(
            select(AuditEventRow.attempt, AuditEventRow.outcome, AuditEventRow.error_code).where(
                AuditEventRow.operation == OP
            )
        ).all()
    assert [tuple(r) for r in rows] == [(1, "succeeded", None)]


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    url = f"{redis_url.rstrip('/')}/{BROKER_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _take_one(connection: Connection) -> Any:
    received: list[Any] = []
    consumer = Consumer(
        connection.default_channel,
        [QUEUE],
        callbacks=[lambda body, message: received.append(message)],
        accept=["json"],
    )
    consumer.qos(prefetch_count=1)
    consumer.consume()
    while not received:
        connection.drain_events(timeout=5)
    consumer.cancel()
    return received[0]


def test_a_requeued_message_is_taken_again_before_the_backlog(broker: str) -> None:
    with Connection(broker, transport=CAPGATE) as connection:
        producer = Producer(connection)
        for n in range(1, 4):
            producer.publish(
                {"n": n}, exchange=EXCHANGE, routing_key=QUEUE.routing_key, declare=[QUEUE]
            )
        first = _take_one(connection)
        assert first.payload == {"n": 1}
        first.reject(requeue=True)  # what the task's Reject(requeue=True) does
        again = _take_one(connection)
        assert again.payload == {"n": 1}, "the requeued message went behind the backlog"
        assert again.delivery_info.get("redelivered") or again.headers.get("redelivered")
        again.ack()
    client = redis.Redis.from_url(broker)
    try:
        assert client.llen(QUEUE.name) == 2
        assert client.hlen("unacked") == 0
    finally:
        client.close()


def test_a_no_ack_message_leaves_no_unacknowledged_record(broker: str) -> None:
    """Celery's own replies (mingle, pidbox) are consumed with no_ack: nothing to restore later."""
    received: list[Any] = []
    with Connection(broker, transport=CAPGATE) as connection:
        Producer(connection).publish(
            {"reply": 1}, exchange=EXCHANGE, routing_key=QUEUE.routing_key, declare=[QUEUE]
        )
        consumer = Consumer(
            connection.default_channel,
            [QUEUE],
            callbacks=[lambda body, message: received.append(body)],
            accept=["json"],
            no_ack=True,
        )
        consumer.consume()
        while not received:
            connection.drain_events(timeout=5)
    client = redis.Redis.from_url(broker)
    try:
        assert received == [{"reply": 1}]
        assert client.hlen("unacked") == 0, "a no-ack reply was recorded as unacknowledged"
        assert client.zcard("unacked_index") == 0
    finally:
        client.close()
