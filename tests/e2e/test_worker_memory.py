"""A worker's memory stays flat while it refuses big envelopes.

Celery keeps a failed task's exception in a reference cycle with its own
frame, which holds the message body; without ``capgate worker``'s collection
after big commands (capgate/cli/worker.py) each refused 200 kB envelope
stayed in the pool process until a rare full collection: about 0.75 MB per
message, +694 MiB after the 3,000 hostile messages (docs/reliability.md
section 5).
"""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest
import redis

from tests.e2e.test_raw_protocol import (
    QUEUE,
    command_body,
    message,
    new_plugin,
    send_valid,
    signed_envelope,
)
from tests.e2e.workers import WorkerProcess, audit_rows, wait_for
from tests.support.world import Plugin, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

GROWTH_LIMIT = 48 * 1024 * 1024


@pytest.fixture
def broker(e2e_settings: dict[str, str]) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(e2e_settings["CAPGATE_BROKER_URL"])
    yield client
    client.close()


def tree_rss(worker: WorkerProcess) -> int:
    main = psutil.Process(worker.process.pid)
    return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)])


def settle(world: World, broker: redis.Redis, plugin: Plugin) -> None:
    """Wait until a valid command behind everything sent so far has run."""
    command_id = send_valid(broker, plugin)
    wait_for(lambda: audit_rows(world, command_id), 120)
    wait_for(lambda: broker.llen(QUEUE) == 0 and broker.hlen("unacked") == 0, 60)


def test_refusing_200_big_envelopes_does_not_grow_the_worker(
    world: World, worker: WorkerProcess, broker: redis.Redis
) -> None:
    plugin = new_plugin(world)
    for _ in range(20):  # both pool processes build their pipeline
        settle(world, broker, plugin)
    before = tree_rss(worker)
    ids = []
    for _ in range(200):
        envelope = signed_envelope(
            plugin, "users.revoke_sessions", {"user_id": "u-bob", "junk": "x" * 200_000}
        )
        ids.append(envelope["command_id"])
        task = "capgate.users.revoke_sessions"
        broker.lpush(QUEUE, message(task, ids[-1], command_body(envelope)))
    settle(world, broker, plugin)
    assert audit_rows(world, ids[-1]) == [(1, "failed", "invalid_payload")]
    growth = tree_rss(worker) - before
    assert growth < GROWTH_LIMIT, f"{growth / 2**20:.0f} MiB"
