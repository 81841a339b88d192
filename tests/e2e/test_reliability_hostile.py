"""Hostile input straight onto the queue: the worker stays up, refuses each, retries none.

Hypothesis draws batches of malformed protocol-2 messages (tests/e2e/
hostile_messages.py) that are LPUSHed raw onto ``capgate.users`` of a Redis
and a database of this module's own, behind one real ``capgate worker``.
After each batch a valid command must still succeed; every message that can
be attributed to a command has audit rows, all refusals with one of the
codes its kind allows; nothing is scheduled for a retry; and at the end the
worker's memory (RSS of its process tree) has not grown. The default run
sends 200 messages; the slow variant 3,000 (docs/reliability.md).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from capgate.workers.tables import ScheduledRetryRow
from scenarios.stack import Stack, running_stack
from tests.e2e.hostile_messages import QUEUE, Hostile, hostile
from tests.e2e.test_raw_protocol import EMPTY_EMBED, message, send_valid
from tests.e2e.workers import WorkerProcess, audit_rows, wait_for
from tests.support.services import POSTGRES_ADMIN_URL, port_open, unavailable
from tests.support.world import Plugin

# The hypothesis runs are slow (docs/reliability.md); the two crash
# regressions are quick and run by default.
pytestmark = [pytest.mark.e2e, pytest.mark.integration]

BATCH = 25
REFUSED = frozenset({"rejected", "denied", "failed"})
MEMORY_GROWTH_LIMIT = 64 * 1024 * 1024


@dataclass
class Target:
    """The module's worker, plugin and broker, and what was learned so far."""

    stack: Stack
    worker: WorkerProcess
    plugin: Plugin
    broker: redis.Redis
    baseline_rss: int
    codes_seen: dict[str, set[str]] = field(default_factory=dict)


def tree_rss(worker: WorkerProcess) -> int:
    """Resident memory of the worker and all its children, in bytes."""
    main = psutil.Process(worker.process.pid)
    return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)])


def send_sentinel(target: Target) -> None:
    """A valid command after the batch: it must succeed (the worker still works)."""
    command_id = send_valid(target.broker, target.plugin)
    wait_for(lambda: audit_rows(target.stack.world, command_id), 120)
    assert audit_rows(target.stack.world, command_id)[-1][1] == "succeeded"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    admin = make_url(POSTGRES_ADMIN_URL)
    if not port_open(admin.host or "127.0.0.1", admin.port or 5432):
        unavailable("PostgreSQL")
    if shutil.which("redis-server") is None:
        unavailable("redis-server (the test starts its own)")
    with running_stack(folder=tmp_path_factory.mktemp("hostile")) as stack:
        worker = stack.start_worker()
        plugin = stack.plugin("hostile", "admin", {"users:write": None})
        broker = redis.Redis.from_url(stack.settings["CAPGATE_BROKER_URL"])
        try:
            target = Target(stack, worker, plugin, broker, 0)
            for _ in range(5):  # warm up: connections, caches, imports
                send_sentinel(target)
            target.baseline_rss = tree_rss(worker)
            yield target
        finally:
            broker.close()


def check_batch(target: Target, batch: list[Hostile]) -> None:
    """Push ``batch`` raw, then check the worker and each message's audit trail."""
    for item in batch:
        target.broker.lpush(QUEUE, item.raw)
    send_sentinel(target)
    wait_for(lambda: target.broker.llen(QUEUE) == 0 and target.broker.hlen("unacked") == 0, 60)
    assert target.worker.process.poll() is None, target.worker.log.read_text()[-3000:]
    world = target.stack.world
    for item in batch:
        if item.command_id is None:
            continue
        rows = wait_for(lambda cid=item.command_id: audit_rows(world, cid), 30)
        outcomes = {outcome for _, outcome, _ in rows}
        codes = {code or "" for _, _, code in rows}
        assert outcomes <= REFUSED, (item.kind, rows)
        assert codes <= item.codes, (item.kind, rows)
        target.codes_seen.setdefault(item.kind.split(":")[0], set()).update(codes)
    with world.runtime.sessions() as session:
        retries = session.scalar(select(func.count()).select_from(ScheduledRetryRow))
    assert retries == 0


def batches(target: Target) -> st.SearchStrategy[list[Hostile]]:
    return st.lists(hostile(target.plugin), min_size=BATCH, max_size=BATCH)


def hypothesis_settings(examples: int) -> settings:
    """``examples`` batches, no deadline (a batch waits for a real worker), no example file."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.slow
def test_200_hostile_messages_are_refused_without_a_retry(target: Target) -> None:
    @hypothesis_settings(8)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        check_batch(target, data.draw(batches(target)))

    run()


@pytest.mark.slow
def test_3000_hostile_messages_are_refused_without_a_retry(target: Target) -> None:
    @hypothesis_settings(120)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        check_batch(target, data.draw(batches(target)))

    run()


@pytest.mark.slow
def test_the_worker_is_up_and_its_memory_flat_after_the_hostile_messages(target: Target) -> None:
    send_sentinel(target)
    assert target.worker.process.poll() is None
    assert tree_rss(target.worker) - target.baseline_rss < MEMORY_GROWTH_LIMIT


@pytest.fixture
def fresh_target(target: Target) -> Iterator[Target]:
    """The module's stack with a worker of its own (the test is expected to kill it)."""
    worker = target.stack.start_worker()
    yield Target(target.stack, worker, target.plugin, target.broker, 0)
    worker.stop()
    # A stopped worker is not a dead one: later tests check the rest.
    target.stack.workers.remove(worker)


def deep_body(depth: int) -> str:
    body = f"[[{'[' * depth}{']' * depth}], {{}}, {json.dumps(EMPTY_EMBED)}]".encode()
    return message("capgate.users.revoke_sessions", str(uuid.uuid4()), body)


def test_a_body_nested_900_deep_does_not_kill_the_worker(fresh_target: Target) -> None:
    fresh_target.broker.lpush(QUEUE, deep_body(900))
    time.sleep(3)
    # Whichever worker takes the message dies: check them all.
    alive = all(w.process.poll() is None for w in fresh_target.stack.workers)
    fresh_target.broker.delete(QUEUE, "unacked", "unacked_index")  # never poison the module
    assert alive


def test_a_queue_item_that_is_not_a_message_does_not_kill_the_worker(
    fresh_target: Target,
) -> None:
    fresh_target.broker.lpush(QUEUE, "[]")
    time.sleep(3)
    assert all(w.process.poll() is None for w in fresh_target.stack.workers)
