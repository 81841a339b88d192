"""The production runtime built from Settings: each setting reaches the piece it configures."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import Reject
from celery.worker.control import conf as inspect_conf

from capgate.adapters.base import AdapterResult, Invocation
from capgate.settings import Settings
from capgate.workers.app_state import settings_for
from capgate.workers.celery_app import create_app
from capgate.workers.process import StartupError, check_pipeline
from capgate.workers.ratelimit import MemoryLimitStore
from capgate.workers.wiring import production_pipeline
from tests.support.world import SECRET, World, delivery

OP = "users.activate"
CALLS: list[str] = []
DEAD: list[dict[str, Any]] = []


def override(invocation: Invocation) -> AdapterResult:
    """The adapter override the settings name (records that it ran)."""
    CALLS.append(invocation.command_id)
    return AdapterResult(response={"user_id": "u-1", "active": True})


def hook(letter: dict[str, Any]) -> None:
    """The dead-letter hook the settings name."""
    DEAD.append(letter)


@pytest.fixture
def world(sqlite_url: str) -> World:
    CALLS.clear()
    DEAD.clear()
    return World.create(sqlite_url)


def test_production_pipeline_applies_max_deliveries_overrides_and_hooks(world: World) -> None:
    settings = Settings(
        database_url=world.runtime.settings.database_url,
        secret=SECRET,
        max_deliveries=1,
        grant_cache_ttl=0,
        adapter_overrides={OP: f"{__name__}:override"},
        dead_letter_hooks=[f"{__name__}:hook"],
    )
    pipeline = production_pipeline(settings, limiter=MemoryLimitStore())
    plugin = world.add_plugin("p-root", "admin", {"users:write": None})
    first = plugin.command(OP, {"user_id": "u-1"})
    # A first delivery runs the override named in CAPGATE_ADAPTER_OVERRIDES.
    assert pipeline.run(delivery(first, OP)).outcome.value == "succeeded"
    assert len(CALLS) == 1
    # CAPGATE_MAX_DELIVERIES=1: a redelivered attempt is dead-lettered unrun,
    # and CAPGATE_DEAD_LETTER_HOOKS hears of it.
    second = plugin.command(OP, {"user_id": "u-2"})
    verdict = pipeline.run(delivery(second, OP, task_id="t-2", redelivered=True))
    assert verdict.outcome.value == "dead_lettered"
    assert verdict.error is not None and verdict.error.code == "redelivery_limit"
    assert len(CALLS) == 1
    assert [letter["command_id"] for letter in DEAD] == [verdict.command_id]


def test_celery_app_takes_limits_and_timeout_from_settings() -> None:
    settings = Settings(
        secret=SECRET, task_soft_time_limit=40, task_time_limit=50, visibility_timeout=300
    )
    app = create_app(settings)
    assert app.conf.task_soft_time_limit == 40
    assert app.conf.task_time_limit == 50
    assert app.conf.broker_transport_options["visibility_timeout"] == 300
    assert settings_for(app) is settings


def test_inspect_conf_shows_no_password_or_secret() -> None:
    settings = Settings(
        database_url="postgresql://capgate:db-pass-1234@db.example/capgate",
        broker_url="redis://:broker-pass-1234@redis.example:6379/0",
        result_backend="redis://:results-pass-1234@redis.example:6379/1",
        rate_limit_url="redis://:limits-pass-1234@redis.example:6379/2",
        secret="server-secret-value-0123456789abcdef",
    )
    app = create_app(settings)
    # What `celery inspect conf` answers (and Flower's Config tab shows).
    shown = repr(inspect_conf(SimpleNamespace(app=app)))
    for secret in ("db-pass-1234", "broker-pass-1234", "results-pass-1234", "limits-pass-1234"):
        assert secret not in shown
    assert "server-secret-value" not in shown
    assert "capgate_settings" not in shown


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "adapter_overrides",
            {OP: "capgate_no_such_module:handler"},
            "CAPGATE_ADAPTER_OVERRIDES: No module named 'capgate_no_such_module'",
        ),
        (
            "adapter_overrides",
            {"users.nope": f"{__name__}:override"},
            "unknown operations: users.nope",
        ),
        (
            "dead_letter_hooks",
            [f"{__name__}:no_such_hook"],
            "CAPGATE_DEAD_LETTER_HOOKS: module",
        ),
    ],
)
def test_a_setting_naming_what_cannot_be_loaded_stops_the_start(
    sqlite_url: str, field: str, value: Any, expected: str
) -> None:
    settings = Settings(database_url=sqlite_url, secret=SECRET, **{field: value})
    with pytest.raises(StartupError) as caught:
        check_pipeline(settings)
    assert "\n" not in str(caught.value)
    assert expected in str(caught.value)


def test_a_pipeline_that_cannot_be_built_returns_the_message_to_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(settings: Settings) -> Any:
        raise RuntimeError("database driver missing")

    monkeypatch.setattr("capgate.workers.task._STORE_PAUSE_SECONDS", 0)
    app = create_app(Settings(secret=SECRET), pipeline_factory=broken)
    task = app.tasks[f"capgate.{OP}"]
    task.push_request(id="t-1", hostname="h", delivery_info={})
    try:
        with pytest.raises(Reject) as caught:
            task.run("{}")
    finally:
        task.pop_request()
    # Rejected with requeue: the broker keeps it; Celery never acknowledges it.
    assert caught.value.requeue is True
