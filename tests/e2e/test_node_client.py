"""The Node.js client (clients/node) against a real worker, Redis and PostgreSQL.

The scenario script publishes with the built package only; this test
registers the plugin, runs the worker and reads the audit trail. Skipped
when Node.js or the package's node_modules are missing, unless
CAPGATE_REQUIRE_NODE=1 (set by .ci/run after `npm ci`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import test_worker_pipeline as pipeline_tests
from tests.e2e.test_worker_pipeline import audit_rows
from tests.e2e.workers import WorkerProcess
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

worker = pipeline_tests.worker
PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "node"


@pytest.fixture(scope="module")
def built_package() -> Path:
    """The package compiled with its own tsc (npm ci must have run)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm or not (PACKAGE / "node_modules").is_dir():
        if os.environ.get("CAPGATE_REQUIRE_NODE") == "1":
            pytest.fail("Node.js client not installed: run `npm ci` in clients/node")
        pytest.skip("Node.js or clients/node/node_modules missing")
    subprocess.run([npm, "run", "-s", "build"], cwd=PACKAGE, check=True)
    return PACKAGE


def run_scenario(world: World, e2e_settings: dict[str, str]) -> dict[str, Any]:
    plugin = world.add_plugin(f"n{uuid.uuid4().hex[:8]}", "admin", {"users:write": None})
    scenario = {
        "broker": e2e_settings["CAPGATE_BROKER_URL"],
        "results": e2e_settings["CAPGATE_RESULT_BACKEND"],
        "plugin_name": plugin.key.plugin_name,
        "plugin_id": plugin.key.plugin_id,
        "capability_id": plugin.capability_id,
        "capability_key": plugin.capability_key,
        "key_id": plugin.key.key_id,
        "secret": plugin.key.secret,
    }
    done = subprocess.run(
        ["node", "test/scenario.mjs"],
        cwd=PACKAGE,
        env={**os.environ, "CAPGATE_NODE_SCENARIO": json.dumps(scenario)},
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_node_plugin_publishes_awaits_and_handles_each_outcome(
    built_package: Path, world: World, worker: WorkerProcess, e2e_settings: dict[str, str]
) -> None:
    out = run_scenario(world, e2e_settings)
    success = out["success"]
    assert success["ok"] and success["outcome"] == "succeeded"
    assert success["response"] == {"revoked": 2}
    assert audit_rows(world, success["id"]) == [(1, "succeeded", None)]

    again = out["deduplicated"]
    assert again["ok"] and again["response"] == {"revoked": 2}, "the first command's response"
    assert audit_rows(world, again["id"]) == [(1, "deduplicated", None)]

    refusals = {
        "conflict": ("VALIDATION", "idempotency_conflict", "failed"),
        "invalid": ("VALIDATION", "invalid_payload", "failed"),
        "forged": ("PERMISSION", "bad_signature", "rejected"),
        "missing": ("NOT_FOUND", "user_not_found", "failed"),
    }
    for case, (kind, code, outcome) in refusals.items():
        got = out[case]
        seen = (got["ok"], got["kind"], got["code"], got["retryable"])
        assert seen == (False, kind, code, False), case
        assert audit_rows(world, got["id"]) == [(1, outcome, code)], case

    assert [(b["ok"], b["outcome"]) for b in out["batch"]] == [(True, "succeeded")] * 2
