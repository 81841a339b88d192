"""End to end: the Redis limiter, a provider's shared back-off and idempotency keys.

Real worker processes on real Redis and PostgreSQL. Deferred commands are
checked where they wait (their audit row and their row in the retry
schedule), not waited for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from capgate.adapters.change_log import ChangeLogEntry
from capgate.audit.schema import AuditEventRow
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.workers.tables import ScheduledRetryRow
from tests.e2e.workers import WorkerProcess, audit_rows, client_for, name, wait_for, worker_env
from tests.support.gmail_server import GmailTestServer
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
PERIOD_MS = 60_000


def delays(world: World, command_ids: list[str]) -> list[tuple[str, int | None]]:
    """(outcome, retry delay) of the first audit row of each command."""
    with world.runtime.sessions() as session:
        rows = session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.command_id.in_(command_ids))
            .order_by(AuditEventRow.id)
        ).all()
    return [(row.outcome, row.retry_delay_ms) for row in rows]


def test_a_burst_over_the_grant_runs_three_and_reserves_later_slots(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str]
) -> None:
    plugin = world.add_plugin(name(), "admin", {"users:write": "3/minute"})
    client = client_for(plugin, e2e_settings)
    ids = [client.send("users.activate", {"user_id": "u-carol"}).command_id for _ in range(5)]
    rows = wait_for(lambda: r if len(r := delays(world, ids)) == 5 else [], 30)

    assert sorted(outcome for outcome, _ in rows) == ["rate_limited"] * 2 + ["succeeded"] * 3
    waits = sorted(delay or 0 for outcome, delay in rows if outcome == "rate_limited")
    # 3/minute: one slot every 20 s once the burst of 3 is used; the second
    # deferred command is given the slot after the first one's, not the same.
    interval = PERIOD_MS // 3
    assert interval - 5_000 < waits[0] <= interval
    assert 2 * interval - 5_000 < waits[1] <= 2 * interval
    with world.runtime.sessions() as session:
        scheduled = session.scalars(
            select(ScheduledRetryRow).where(ScheduledRetryRow.command_id.in_(ids))
        ).all()
    deferred = {cid for cid in ids if audit_rows(world, cid)[0][1] == "rate_limited"}
    assert {(row.command_id, row.attempt) for row in scheduled} == {(cid, 2) for cid in deferred}
    for cid in deferred:
        assert audit_rows(world, cid) == [(1, "rate_limited", "rate_limited")]


def test_the_same_idempotency_key_runs_once_and_a_changed_payload_conflicts(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str]
) -> None:
    client = client_for(world.add_plugin(name(), "admin", {"users:write": None}), e2e_settings)
    first = client.send("users.revoke_sessions", {"user_id": "u-bob"}, idempotency_key="k-1")
    assert first.result(timeout=30) == {"revoked": 2}
    again = client.send("users.revoke_sessions", {"user_id": "u-bob"}, idempotency_key="k-1")
    assert again.result(timeout=30) == {"revoked": 2}, "the first command's response"
    assert audit_rows(world, again.command_id) == [(1, "deduplicated", None)]
    with world.runtime.sessions() as session:
        changes = session.scalars(
            select(ChangeLogEntry.command_id).where(ChangeLogEntry.action == "revoke_sessions")
        ).all()
    assert changes == [first.command_id], "the sessions were revoked once"

    other = client.send("users.revoke_sessions", {"user_id": "u-carol"}, idempotency_key="k-1")
    with pytest.raises(PluginServiceError) as caught:
        other.result(timeout=30)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.VALIDATION, "idempotency_conflict")
    assert audit_rows(world, other.command_id) == [(1, "failed", "idempotency_conflict")]


@pytest.fixture
def google() -> Iterator[GmailTestServer]:
    server = GmailTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def gmail_worker(
    world: World, e2e_settings: dict[str, str], google: GmailTestServer, tmp_path: Path
) -> Iterator[WorkerProcess]:
    env = worker_env(e2e_settings)
    env["CAPGATE_ADAPTER_OVERRIDES"] = json.dumps({"email.send": "tests.e2e.fake_google:send"})
    env["FAKE_GOOGLE_URL"] = google.base_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = WorkerProcess(env, tmp_path / "gmail-worker.log")
    process.wait_ready()
    yield process
    process.stop()


def test_a_gmail_429_makes_every_worker_back_off(
    world: World,
    gmail_worker: WorkerProcess,
    e2e_settings: dict[str, str],
    google: GmailTestServer,
) -> None:
    client = client_for(world.add_plugin(name(), "mailer", {"email:send": None}), e2e_settings)
    config = {
        "client_id": "client-1",
        "client_secret": "client-secret-value",
        "refresh_token": "refresh-token-value",
        "sender": "me@example.com",
    }
    client.call(
        "email.register_provider", {"name": "gmail", "kind": "gmail", "config": config}, timeout=30
    )
    google.state.send_answers.append((429, {"error": {"code": 429}}, {"Retry-After": "120"}))
    message = {"provider": "gmail", "to": ["bob@example.com"], "subject": "s", "text": "x"}

    told = client.send("email.send", message)
    wait_for(lambda: audit_rows(world, told.command_id), 30)
    assert audit_rows(world, told.command_id) == [(1, "rate_limited", "gmail_rate_limited")]
    limiter = redis.Redis.from_url(e2e_settings["CAPGATE_RATE_LIMIT_URL"])
    try:
        blocked_ms = limiter.pttl("capgate:blocked:email:gmail")
    finally:
        limiter.close()
    assert 110_000 < blocked_ms <= 120_000

    # Another command for the same provider waits without calling Google.
    sends_before = google.state.paths().count("/send")
    second = client.send("email.send", message)
    wait_for(lambda: audit_rows(world, second.command_id), 30)
    assert audit_rows(world, second.command_id) == [(1, "rate_limited", "provider_backoff")]
    assert google.state.paths().count("/send") == sends_before == 1
    [(_, delay)] = delays(world, [second.command_id])
    assert delay is not None and 110_000 < delay <= 120_000
