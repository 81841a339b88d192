"""Hostile Celery headers and properties on a real ``capgate worker -c 2`` (issue 14).

A plugin that may push to one queue must not be able to stall the worker,
make it publish, or leave anything in ``unacked``. Messages are built with
``test_raw_protocol``'s helpers (json/base64/hmac only) and LPUSHed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis

from tests.e2e.test_raw_protocol import (
    broker,
    command_body,
    message,
    new_plugin,
    results,
    send_valid,
    signed_envelope,
    stored_result,
)
from tests.e2e.workers import WorkerProcess, audit_rows, wait_for
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

__all__ = ["broker", "results"]

BUNDLES = "capgate.bundles"
TASK = "capgate.bundles.enable"


def with_headers(raw: str, **changes: Any) -> str:
    """``raw`` with its Celery headers changed (a value of ``...`` removes the header)."""
    item = json.loads(raw)
    for name, value in changes.items():
        if value is ...:
            item["headers"].pop(name, None)
        else:
            item["headers"][name] = value
    return json.dumps(item)


def bundles_message(world: World, **changes: Any) -> str:
    plugin = world.add_plugin(f"p{uuid.uuid4().hex[:8]}", "admin", {"bundles:write": None})
    envelope = signed_envelope(plugin, "bundles.enable", {"bundle_id": "b-1"})
    raw = message(TASK, envelope["command_id"], command_body(envelope), queue=BUNDLES)
    return with_headers(raw, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"timelimit": 5},
        {"timelimit": "abc"},
        {"timelimit": [1, 2, 3]},
        {"id": ...},
        {"stamped_headers": 5},
    ],
    ids=["timelimit-int", "timelimit-str", "timelimit-3", "no-id", "stamped-int"],
)
def test_two_malformed_header_messages_do_not_stall_a_two_process_worker(
    world: World,
    worker: WorkerProcess,
    broker: redis.Redis,
    results: redis.Redis,
    changes: dict[str, Any],
) -> None:
    for _ in range(2):
        broker.lpush(BUNDLES, bundles_message(world, **changes))
    wait_for(lambda: broker.llen(BUNDLES) == 0 or None, 15)
    command_id = send_valid(broker, new_plugin(world))
    assert stored_result(results, command_id)["status"] == "SUCCESS"
    assert wait_for(lambda: broker.hlen("unacked") == 0 or None, 15)
    assert worker.process.poll() is None


@pytest.mark.parametrize(
    "changes",
    [
        {"expires": "2000-01-01T00:00:00+00:00"},
        {"eta": "2100-01-01T00:00:00+00:00"},
        {"timelimit": [0.001, 0.001]},
        {"stamped_headers": 5, "stamps": {"x": 1}},
    ],
    ids=["expires-past", "eta-far", "timelimit-tiny", "stamps"],
)
def test_the_senders_celery_knobs_are_ignored_and_the_command_runs_once_audited(
    world: World,
    worker: WorkerProcess,
    broker: redis.Redis,
    results: redis.Redis,
    changes: dict[str, Any],
) -> None:
    plugin = new_plugin(world)
    envelope = signed_envelope(plugin, "users.revoke_sessions", {"user_id": "u-bob"})
    command_id = envelope["command_id"]
    raw = message("capgate.users.revoke_sessions", command_id, command_body(envelope))
    broker.lpush("capgate.users", with_headers(raw, **changes))
    assert stored_result(results, command_id)["status"] == "SUCCESS"
    assert audit_rows(world, command_id) == [(1, "succeeded", None)]
    assert wait_for(lambda: broker.hlen("unacked") == 0 or None, 15)
