"""Metrics: a real prefork worker serves Prometheus text that moves with its commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from capgate.contracts.errors import PluginServiceError
from tests.e2e.workers import WorkerProcess, worker_env
from tests.support.ops import client_for, http_get, ops_settings, seeded_world, unique, wait_for
from tests.support.services import free_port
from tests.support.world import World

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def settings(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return ops_settings(postgres_url, redis_url, tmp_path)


@pytest.fixture
def world(settings: dict[str, str]) -> Iterator[World]:
    with seeded_world(settings["CAPGATE_DATABASE_URL"]) as world:
        yield world


def test_worker_metrics_count_outcomes_retries_rate_limits_and_audit_writes(
    world: World, settings: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    worker = WorkerProcess(
        worker_env(settings), tmp_path / "worker.log", "--metrics-port", str(port)
    )
    try:
        worker.wait_ready()
        before = scrape(port)
        assert (
            value(before, "capgate_commands_total", operation="users.activate", outcome="succeeded")
            == 0
        )

        admin = client_for(
            world.add_plugin(unique(), "admin", {"users:write": "1/minute"}), settings
        )
        admin.call("users.activate", {"user_id": "u-bob"}, timeout=30)
        # The second within the minute is rate limited: a retry is scheduled with a wait.
        limited = admin.send("users.activate", {"user_id": "u-bob"})
        mailer = client_for(world.add_plugin(unique(), "mailer", {"email:send": None}), settings)
        with pytest.raises(PluginServiceError):
            mailer.call("users.deactivate", {"user_id": "u-bob"}, timeout=30)

        def moved() -> Samples | None:
            now = scrape(port)
            waits = value(now, "capgate_rate_limit_wait_seconds_count", operation="users.activate")
            return now if waits >= 1 else None

        after = wait_for(moved, 30, "a rate-limit wait in the metrics")
    finally:
        worker.stop()

    assert (
        value(after, "capgate_commands_total", operation="users.activate", outcome="succeeded") == 1
    )
    assert (
        value(after, "capgate_commands_total", operation="users.deactivate", outcome="denied") == 1
    )
    assert (
        value(after, "capgate_attempts_total", operation="users.activate", outcome="rate_limited")
        >= 1
    )
    assert (
        value(
            after,
            "capgate_retries_scheduled_total",
            operation="users.activate",
            reason="rate_limited",
        )
        >= 1
    )
    assert value(after, "capgate_command_attempts_count", operation="users.activate") == 1
    # Every attempt wrote one audit row, and each write was timed.
    attempts = sum(v for (n, _), v in after.items() if n == "capgate_attempts_total")
    assert value(after, "capgate_audit_write_seconds_count") >= attempts >= 3
    assert limited.command_id not in str(after)
