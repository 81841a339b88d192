"""The worker's engine does not ping: a connection the server dropped fails one attempt, unaudited,
and the next delivery reconnects and runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from capgate.adapters.base import Invocation
from capgate.audit.schema import AuditEventRow
from capgate.workers.pipeline import StoreUnavailableError
from capgate.workers.work import VerdictKind
from tests.support.postgres_world import drop_worker_connections, postgres_world
from tests.support.world import World, delivery, recording_handler

pytestmark = pytest.mark.integration

OP = "users.activate"


@pytest.fixture
def world(postgres_url: str) -> Iterator[World]:
    with postgres_world(postgres_url) as world:
        yield world


def test_a_dropped_connection_fails_one_attempt_and_the_redelivery_runs(world: World) -> None:
    plugin = world.add_plugin("alpha", "admin", {"users:write": None})
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls, {"active": True})})
    assert pipeline.run(delivery(plugin.command(OP, {"user_id": "u-1"}), OP)).kind is (
        VerdictKind.SUCCEEDED
    )
    # The database restarts under the worker: every pooled connection is dead.
    assert drop_worker_connections(world) >= 1
    text_ = plugin.command(OP, {"user_id": "u-2"})
    with pytest.raises(StoreUnavailableError) as failure:
        pipeline.run(delivery(text_, OP))
    assert failure.value.stale_connection, "a dead pooled connection is not an outage"
    assert len(calls) == 1
    verdict = pipeline.run(delivery(text_, OP, redelivered=True))
    assert verdict.kind is VerdictKind.SUCCEEDED
    assert [c.payload.user_id for c in calls] == ["u-1", "u-2"]  # type: ignore[attr-defined]
    with world.runtime.sessions() as session:
        outcomes = session.scalars(
            select(AuditEventRow.outcome).where(AuditEventRow.operation == OP)
        ).all()
    assert outcomes == ["succeeded", "succeeded"]
