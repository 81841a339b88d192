"""The pipeline, end to end in one process: SQLite, in-memory limiter, fake adapters."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from capgate.adapters.base import AdapterResult, Invocation
from capgate.audit.schema import AuditEventRow
from capgate.contracts.errors import PluginServiceError
from capgate.workers.pipeline import Pipeline
from capgate.workers.tables import CommandRow, DeadLetterRow, ScheduledRetryRow
from capgate.workers.tokens import RetryTokens
from capgate.workers.work import VerdictKind
from tests.support.world import SECRET, Plugin, World, delivery, recording_handler

OP = "users.activate"


@pytest.fixture
def world(sqlite_url: str) -> World:
    return World.create(sqlite_url)


@pytest.fixture
def plugin(world: World) -> Plugin:
    return world.add_plugin("alpha", "admin", {"users:write": None})


def rows(world: World) -> list[AuditEventRow]:
    with world.runtime.sessions() as session:
        stmt = select(AuditEventRow).where(AuditEventRow.operation != None)  # noqa: E711
        return [r for r in session.scalars(stmt.order_by(AuditEventRow.id)) if r.command_id]


def command_rows(world: World) -> list[AuditEventRow]:
    return [r for r in rows(world) if not (r.operation or "").startswith("plugins.")]


def test_success_runs_the_adapter_once_and_audits_it(world: World, plugin: Plugin) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls, {"active": True})})
    text = plugin.command(OP, {"user_id": "u-1"})
    verdict = pipeline.run(delivery(text, OP))
    assert verdict.kind is VerdictKind.SUCCEEDED
    assert verdict.response == {"active": True}
    assert len(calls) == 1 and calls[0].payload.user_id == "u-1"  # type: ignore[attr-defined]
    [row] = command_rows(world)
    assert (row.outcome, row.plugin_name, row.attempt) == ("succeeded", "alpha", 1)
    assert row.requested_scopes == ["users:write"]


def test_same_idempotency_key_runs_once_and_returns_the_first_result(
    world: World, plugin: Plugin
) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls, {"n": 1})})
    first = pipeline.run(delivery(plugin.command(OP, {"user_id": "u-1"}, idempotency_key="k1"), OP))
    second = pipeline.run(
        delivery(plugin.command(OP, {"user_id": "u-1"}, idempotency_key="k1"), OP)
    )
    assert len(calls) == 1
    assert second.response == first.response == {"n": 1}
    assert [r.outcome for r in command_rows(world)] == ["succeeded", "deduplicated"]


def test_same_idempotency_key_with_another_payload_is_a_conflict(
    world: World, plugin: Plugin
) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls)})
    pipeline.run(delivery(plugin.command(OP, {"user_id": "u-1"}, idempotency_key="k1"), OP))
    verdict = pipeline.run(
        delivery(plugin.command(OP, {"user_id": "u-2"}, idempotency_key="k1"), OP)
    )
    assert verdict.error is not None and verdict.error.code == "idempotency_conflict"
    assert verdict.kind is VerdictKind.FAILED and len(calls) == 1


def test_missing_scope_is_denied_with_what_was_needed(world: World) -> None:
    other = world.add_plugin("beta", "mailer", {"email:send": None})
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls)})
    verdict = pipeline.run(delivery(other.command(OP, {"user_id": "u-1"}), OP))
    assert verdict.error is not None and verdict.error.code == "scope_not_granted"
    assert calls == []
    [row] = command_rows(world)
    assert row.outcome == "denied"
    assert (row.requested_scopes, row.denied_scopes) == (["users:write"], ["users:write"])
    assert row.granted_scopes == ["email:send"]


def test_forged_signature_is_rejected_and_attributed(world: World, plugin: Plugin) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls)})
    text = plugin.command(OP, {"user_id": "u-1"}, secret="not-the-key")
    verdict = pipeline.run(delivery(text, OP))
    assert verdict.error is not None and verdict.error.code == "bad_signature"
    assert verdict.kind is VerdictKind.FAILED and calls == []
    [row] = command_rows(world)
    assert row.outcome == "rejected" and row.plugin_id == plugin.key.plugin_id


def test_replayed_command_is_rejected_without_running(world: World, plugin: Plugin) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls)})
    text = plugin.command(OP, {"user_id": "u-1"})
    pipeline.run(delivery(text, OP))
    verdict = pipeline.run(delivery(text, OP))
    assert verdict.error is not None and verdict.error.code == "replayed_command"
    assert len(calls) == 1


@pytest.mark.parametrize("body", [b"{not json", "[]", 42, None, {"a": 1}])
def test_malformed_bodies_fail_without_retry(world: World, body: Any) -> None:
    pipeline = world.pipeline({})
    verdict = pipeline.run(delivery(body, OP))
    assert verdict.kind is VerdictKind.FAILED
    assert verdict.error is not None and verdict.error.kind.value == "VALIDATION"


def test_envelope_sent_under_another_task_name_is_refused(world: World, plugin: Plugin) -> None:
    pipeline = world.pipeline({OP: recording_handler([])})
    text = plugin.command(OP, {"user_id": "u-1"})
    verdict = pipeline.run(delivery(text, "users.deactivate"))
    assert verdict.error is not None and verdict.error.code == "operation_mismatch"


def failing(kind: str, times: int, calls: list[int]) -> Any:
    def handle(invocation: Invocation) -> AdapterResult:
        calls.append(invocation.attempt)
        if len(calls) <= times:
            raise PluginServiceError(kind, "provider_down", "try later")  # type: ignore[arg-type]
        return AdapterResult(response={"ok": True})

    return handle


def retry_delivery(world: World, text: str, attempt: int) -> Any:
    command_id = json.loads(text)["command_id"]
    return delivery(text, OP, retry_token=RetryTokens(SECRET).issue(command_id, attempt))


def test_retryable_failure_is_scheduled_then_the_next_attempt_runs(
    world: World, plugin: Plugin
) -> None:
    calls: list[int] = []
    pipeline = world.pipeline({OP: failing("RETRYABLE", 1, calls)})
    text = plugin.command(OP, {"user_id": "u-1"})
    first = pipeline.run(delivery(text, OP))
    assert first.kind is VerdictKind.RETRY_SCHEDULED and first.retry_at is not None
    with world.runtime.sessions() as session:
        [scheduled] = session.scalars(select(ScheduledRetryRow)).all()
    assert scheduled.attempt == 2
    # The original message again (a replay) does not run attempt 2 early.
    assert pipeline.run(delivery(text, OP)).error.code == "replayed_command"  # type: ignore[union-attr]
    second = pipeline.run(retry_delivery(world, text, 2))
    assert second.kind is VerdictKind.SUCCEEDED
    assert calls == [1, 2]
    outcomes = [(r.attempt, r.outcome) for r in command_rows(world)]
    assert (1, "retry_scheduled") in outcomes and (2, "succeeded") in outcomes


def test_fatal_failure_goes_to_the_dead_letters(world: World, plugin: Plugin) -> None:
    calls: list[int] = []
    pipeline = world.pipeline({OP: failing("FATAL", 99, calls)})
    verdict = pipeline.run(delivery(plugin.command(OP, {"user_id": "u-1"}), OP))
    assert verdict.outcome.value == "dead_lettered"
    with world.runtime.sessions() as session:
        [dead] = session.scalars(select(DeadLetterRow)).all()
        command = session.get(CommandRow, dead.command_id)
    assert dead.error["code"] == "provider_down" and dead.attempts == 1
    assert command is not None and command.status == "dead_lettered"


def test_rate_limit_defers_without_running(world: World) -> None:
    limited = world.add_plugin("gamma", "admin", {"users:write": "2/minute"})
    calls: list[Invocation] = []
    pipeline: Pipeline = world.pipeline({OP: recording_handler(calls)})
    verdicts = [
        pipeline.run(delivery(limited.command(OP, {"user_id": f"u-{i}"}), OP)) for i in range(3)
    ]
    assert [v.outcome.value for v in verdicts] == ["succeeded", "succeeded", "rate_limited"]
    assert len(calls) == 2
    assert verdicts[2].retry_at is not None


def test_scheduled_retry_runs_after_the_command_expired(world: World, plugin: Plugin) -> None:
    from datetime import timedelta

    calls: list[int] = []
    pipeline = world.pipeline({OP: failing("RETRYABLE", 1, calls)})
    text = plugin.command(OP, {"user_id": "u-1"}, ttl=timedelta(seconds=1))
    assert pipeline.run(delivery(text, OP)).kind is VerdictKind.RETRY_SCHEDULED
    later = world.now + timedelta(minutes=5)
    pipeline.deps = replace(pipeline.deps, clock=lambda: later)
    assert pipeline.run(retry_delivery(world, text, 2)).kind is VerdictKind.SUCCEEDED
    # The same expired command without capgate's token is refused.
    forged = delivery(text, OP, retry_token="2:" + "0" * 64)
    verdict = pipeline.run(forged)
    assert verdict.error is not None and verdict.error.code == "invalid_retry_token"
    assert calls == [1, 2]


def test_pump_removing_a_published_attempt_keeps_the_next_one(world: World, plugin: Plugin) -> None:
    from capgate.workers.pump import RetryPump

    calls: list[int] = []
    pipeline = world.pipeline({OP: failing("RETRYABLE", 2, calls)})
    text = plugin.command(OP, {"user_id": "u-1"})
    pipeline.run(delivery(text, OP))

    # The worker runs attempt 2 (and schedules attempt 3) before the pump's
    # transaction that published attempt 2 has deleted its row.
    def publish_and_run_at_once(row: ScheduledRetryRow, token: str) -> None:
        pipeline.run(delivery(row.envelope, OP, retry_token=token))

    pump = RetryPump(
        world.runtime.sessions,
        publish_and_run_at_once,
        RetryTokens(SECRET),
        clock=lambda: world.now + timedelta(hours=1),
    )
    assert pump.run_once() == 1
    with world.runtime.sessions() as session:
        remaining = [r.attempt for r in session.scalars(select(ScheduledRetryRow))]
    assert remaining == [3]
    assert calls == [1, 2]


def test_a_message_redelivered_too_often_is_dead_lettered_without_running(
    world: World, plugin: Plugin
) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls)})
    pipeline.deps = replace(pipeline.deps, max_deliveries=2)
    text = plugin.command(OP, {"user_id": "u-1"})
    # A worker died twice in the middle of attempt 1: each restart redelivers.
    assert pipeline.run(delivery(text, OP, redelivered=True)).kind is VerdictKind.SUCCEEDED
    second = plugin.command(OP, {"user_id": "u-2"})
    pipeline.deps = replace(pipeline.deps, max_deliveries=1)
    verdict = pipeline.run(delivery(second, OP, redelivered=True))
    assert verdict.outcome.value == "dead_lettered"
    assert verdict.error is not None and verdict.error.code == "redelivery_limit"
    assert len(calls) == 1


def test_a_redelivered_copy_of_a_settled_attempt_is_acknowledged_without_a_second_row(
    world: World, plugin: Plugin
) -> None:
    calls: list[Invocation] = []
    pipeline = world.pipeline({OP: recording_handler(calls, {"active": True})})
    text = plugin.command(OP, {"user_id": "u-1"})
    assert pipeline.run(delivery(text, OP)).kind is VerdictKind.SUCCEEDED
    # The worker died after the commit, before the acknowledgement: the
    # broker hands the same message over again, marked redelivered.
    again = pipeline.run(delivery(text, OP, redelivered=True))
    assert again.kind is VerdictKind.DUPLICATE_DELIVERY
    # It carries the first answer, so a caller waiting on the task still gets it.
    assert (again.response, again.error) == ({"active": True}, None)
    assert len(calls) == 1
    assert [r.outcome for r in command_rows(world)] == ["succeeded"]
    # Without the broker's mark it is a replay, and audited as one.
    replay = pipeline.run(delivery(text, OP))
    assert replay.error is not None and replay.error.code == "replayed_command"


def test_a_redelivered_copy_of_a_failed_attempt_carries_its_error(
    world: World, plugin: Plugin
) -> None:
    def refuse(invocation: Invocation) -> AdapterResult:
        raise PluginServiceError.validation("user_locked", "the user is locked")

    pipeline = world.pipeline({OP: refuse})
    text = plugin.command(OP, {"user_id": "u-1"})
    first = pipeline.run(delivery(text, OP))
    assert first.error is not None and first.error.code == "user_locked"
    again = pipeline.run(delivery(text, OP, redelivered=True))
    assert again.kind is VerdictKind.DUPLICATE_DELIVERY
    assert again.error is not None and (again.error.code, again.error.message) == (
        "user_locked",
        "the user is locked",
    )
    assert [r.outcome for r in command_rows(world)] == ["failed"]
