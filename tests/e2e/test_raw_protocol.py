"""Raw Redis publishing, following only docs/wire-format.md section 8.2.

Nothing here uses Celery, Kombu or capgate to build a message: the envelope
is signed with ``hmac``/``hashlib`` (sections 2-4), the message is built
field by field (section 8.2) and pushed with redis-py's ``LPUSH``. The same
helpers then publish what a hostile plugin might: an unknown task name, a
pickle body, a command carrying callbacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.e2e import test_worker_pipeline as pipeline_tests
from tests.e2e.test_worker_pipeline import _wait_for, audit_rows
from tests.e2e.workers import WorkerProcess
from tests.support.world import Plugin, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

worker = pipeline_tests.worker
QUEUE = "capgate.users"
EMPTY_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signed_envelope(plugin: Plugin, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Sections 2-4: the envelope object with its HMAC-SHA256 signature."""
    now = datetime.now(UTC)
    envelope: dict[str, Any] = {
        "format_version": 1,
        "command_id": str(uuid.uuid4()),
        "operation": operation,
        "payload": payload,
        "context": {
            "plugin_name": plugin.key.plugin_name,
            "plugin_id": plugin.key.plugin_id,
            "capability_id": plugin.capability_id,
            "capability_key": plugin.capability_key,
            "execution_kind": "action",
            "timestamp": utc(now),
        },
        "issued_at": utc(now),
        "expires_at": utc(now + timedelta(minutes=5)),
        "key_id": plugin.key.key_id,
    }
    envelope["idempotency_key"] = envelope["command_id"]
    canonical = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = plugin.key.secret.encode("utf-8")
    envelope["signature"] = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
    return envelope


def message(
    task: str,
    task_id: str,
    body: bytes,
    *,
    queue: str = QUEUE,
    content_type: str = "application/json",
) -> str:
    """Section 8.2 step 4: the message Kombu's Redis transport reads."""
    return json.dumps(
        {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8" if content_type == "application/json" else "binary",
            "content-type": content_type,
            "headers": {
                "lang": "py",
                "task": task,
                "id": task_id,
                "root_id": task_id,
                "parent_id": None,
                "group": None,
                "argsrepr": f"(<envelope {len(body)} bytes>,)",
                "kwargsrepr": "{}",
                "origin": "raw-test@localhost",
                "retries": 0,
                "eta": None,
                "expires": None,
                "timelimit": [None, None],
                "ignore_result": False,
            },
            "properties": {
                "correlation_id": task_id,
                "reply_to": "",
                "delivery_mode": 2,
                "delivery_info": {"exchange": "capgate", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def command_body(envelope: dict[str, Any], embed: dict[str, Any] | None = None) -> bytes:
    """Section 8.2 step 2: ``[[ENVELOPE_TEXT], {}, embed]`` as UTF-8 JSON."""
    text = json.dumps(envelope, ensure_ascii=False)
    return json.dumps([[text], {}, embed or EMPTY_EMBED]).encode("utf-8")


@pytest.fixture
def broker(e2e_settings: dict[str, str]) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(e2e_settings["CAPGATE_BROKER_URL"])
    yield client
    client.close()


@pytest.fixture
def results(e2e_settings: dict[str, str]) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(e2e_settings["CAPGATE_RESULT_BACKEND"])
    yield client
    client.close()


def stored_result(results: redis.Redis, task_id: str) -> dict[str, Any]:
    """The final result the worker stored (section 8.2 step 6), once there is one."""

    def final() -> dict[str, Any] | None:
        raw = results.get(f"celery-task-meta-{task_id}")
        value = json.loads(raw) if raw else None
        return value if value and value["status"] in ("SUCCESS", "FAILURE") else None

    return _wait_for(final, 30)  # type: ignore[no-any-return]


def send_valid(broker: redis.Redis, plugin: Plugin) -> str:
    envelope = signed_envelope(plugin, "users.revoke_sessions", {"user_id": "u-bob"})
    command_id = envelope["command_id"]
    body = command_body(envelope)
    broker.lpush(QUEUE, message("capgate.users.revoke_sessions", command_id, body))
    return command_id  # type: ignore[no-any-return]


def new_plugin(world: World) -> Plugin:
    return world.add_plugin(f"p{uuid.uuid4().hex[:8]}", "admin", {"users:write": None})


def test_a_hand_built_protocol_2_message_pushed_with_lpush_is_executed(
    world: World, worker: WorkerProcess, broker: redis.Redis, results: redis.Redis
) -> None:
    command_id = send_valid(broker, new_plugin(world))
    result = stored_result(results, command_id)
    assert result["status"] == "SUCCESS"
    assert "revoked" in result["result"]["response"]
    assert audit_rows(world, command_id) == [(1, "succeeded", None)]


def test_unknown_tasks_and_pickle_bodies_are_dropped_and_the_worker_keeps_working(
    world: World,
    worker: WorkerProcess,
    broker: redis.Redis,
    results: redis.Redis,
    tmp_path: Path,
) -> None:
    plugin = new_plugin(world)
    unknown_id, pickled_id = str(uuid.uuid4()), str(uuid.uuid4())
    # Celery's canvas task would publish whatever signatures it is given.
    group_body = json.dumps([[[]], {}, EMPTY_EMBED]).encode()
    broker.lpush(QUEUE, message("celery.group", unknown_id, group_body))
    marker = tmp_path / "unpickled"
    broker.lpush(
        QUEUE,
        message(
            "capgate.users.revoke_sessions",
            pickled_id,
            pickle.dumps(_TouchOnLoad(str(marker))),
            content_type="application/x-python-serialize",
        ),
    )
    command_id = send_valid(broker, plugin)
    assert stored_result(results, command_id)["status"] == "SUCCESS"
    log = worker.log.read_text(errors="replace")
    assert "Received unregistered task of type 'celery.group'" in log
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert worker.process.poll() is None
    assert not marker.exists()
    assert audit_rows(world, pickled_id) == []
    # Both were removed from the queue and from Kombu's unacknowledged table.
    assert broker.llen(QUEUE) == 0
    assert _wait_for(lambda: broker.hlen("unacked") == 0 or None, 15)
    assert json.loads(results.get(f"celery-task-meta-{unknown_id}") or b"{}")["status"] == (
        "FAILURE"
    )


class _TouchOnLoad:
    """Unpickling this creates a file: proof that something deserialised it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_a_command_with_callbacks_is_refused_audited_and_dispatches_nothing(
    world: World, worker: WorkerProcess, broker: redis.Redis, results: redis.Redis
) -> None:
    plugin = new_plugin(world)
    envelope = signed_envelope(plugin, "users.revoke_sessions", {"user_id": "u-bob"})
    follow_up = {
        "task": "capgate.users.deactivate",
        "args": [],
        "kwargs": {},
        "options": {"queue": "capgate.internal", "routing_key": "capgate.internal"},
        "subtask_type": None,
        "immutable": True,
    }
    embed = {"callbacks": [follow_up], "errbacks": [follow_up], "chain": None, "chord": None}
    command_id = envelope["command_id"]
    body = command_body(envelope, embed)
    broker.lpush(QUEUE, message("capgate.users.revoke_sessions", command_id, body))
    result = stored_result(results, command_id)
    assert result["status"] == "FAILURE"
    assert audit_rows(world, command_id) == [(1, "rejected", "workflow_not_allowed")]
    assert broker.llen("capgate.internal") == 0
    assert broker.llen(QUEUE) == 0
