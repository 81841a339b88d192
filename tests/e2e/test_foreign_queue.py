"""An operation taken from another service's queue is refused, audited and not run.

Each queue is ``capgate.<service_key>`` so operators can scale and isolate
services; a correctly signed command pushed onto a foreign queue must not
run there, whatever its message's ``delivery_info`` claims.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlalchemy import select

from capgate.adapters.change_log import ChangeLogEntry
from tests.e2e import test_raw_protocol as raw
from tests.e2e import test_worker_pipeline as pipeline_tests
from tests.e2e.test_worker_pipeline import audit_rows
from tests.e2e.workers import WorkerProcess
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

worker = pipeline_tests.worker
broker = raw.broker
results = raw.results


@pytest.mark.parametrize("claimed", ["capgate.bundles", "capgate.users"])
def test_a_command_on_a_foreign_queue_is_refused_and_not_run(
    world: World,
    worker: WorkerProcess,
    broker: redis.Redis,
    results: redis.Redis,
    claimed: str,
) -> None:
    """Pushed onto capgate.bundles; its delivery_info names that queue or lies."""
    plugin = world.add_plugin(
        f"q{uuid.uuid4().hex[:8]}", "admin", {"users:write": None, "bundles:write": None}
    )
    envelope = raw.signed_envelope(plugin, "users.revoke_sessions", {"user_id": "u-bob"})
    command_id = envelope["command_id"]
    text = raw.message(
        "capgate.users.revoke_sessions", command_id, raw.command_body(envelope), queue=claimed
    )
    broker.lpush("capgate.bundles", text)
    result = raw.stored_result(results, command_id)
    assert result["status"] == "FAILURE"
    assert "wrong_queue" in str(result["result"])
    assert audit_rows(world, command_id) == [(1, "failed", "wrong_queue")]
    with world.runtime.sessions() as session:
        changes = session.scalars(
            select(ChangeLogEntry.command_id).where(ChangeLogEntry.command_id == command_id)
        ).all()
    assert changes == [], "the sessions were not revoked"
