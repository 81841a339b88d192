"""``capgate send`` against a real worker: publish as a plugin, wait, print the outcome."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capgate.cli.main import cli
from tests.e2e import test_worker_pipeline as pipeline_tests
from tests.e2e.test_worker_pipeline import _wait_for, audit_rows
from tests.e2e.workers import WorkerProcess
from tests.support.world import Plugin, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

worker = pipeline_tests.worker


def key_file(plugin: Plugin, folder: Path) -> Path:
    """The file an operator saves from ``capgate plugins add NAME --json``."""
    path = folder / f"{plugin.key.plugin_name}.json"
    key = plugin.key
    fields = {
        "plugin_id": key.plugin_id,
        "plugin_name": key.plugin_name,
        "key_id": key.key_id,
        "key_secret": key.secret,
    }
    path.write_text(json.dumps(fields))
    return path


def send(settings: dict[str, str], plugin: Plugin, keys: Path, *args: str) -> Result:
    options = ["--plugin", plugin.key.plugin_name, "--key-file", str(keys)]
    return CliRunner().invoke(cli, ["send", *args, *options], env=settings)


def new_plugin(world: World, capability: str, scope: str) -> Plugin:
    return world.add_plugin(f"p{uuid.uuid4().hex[:8]}", capability, {scope: None})


def test_send_wait_prints_the_command_id_and_the_response(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    plugin = new_plugin(world, "admin", "users:write")
    payload = tmp_path / "payload.json"
    payload.write_text('{"user_id": "u-bob"}')
    result = send(
        e2e_settings,
        plugin,
        key_file(plugin, tmp_path),
        "users.revoke_sessions",
        "--capability",
        "admin",
        "--payload",
        f"@{payload}",
        "--wait",
    )
    assert result.exit_code == 0, result.output
    command_id, response = result.output.splitlines()
    assert "revoked" in json.loads(response)
    assert audit_rows(world, command_id) == [(1, "succeeded", None)]


def test_send_without_wait_publishes_with_a_given_capability_id(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    plugin = new_plugin(world, "admin", "users:write")
    result = send(
        e2e_settings,
        plugin,
        key_file(plugin, tmp_path),
        "users.revoke_sessions",
        "--capability",
        "admin",
        "--capability-id",
        plugin.capability_id,
        "--payload",
        '{"user_id": "u-bob"}',
        "--idempotency-key",
        "once-only",
    )
    assert result.exit_code == 0, result.output
    command_id = result.output.strip()
    assert _wait_for(lambda: audit_rows(world, command_id), 30) == [(1, "succeeded", None)]


def test_send_wait_prints_a_denial_and_exits_non_zero(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    plugin = new_plugin(world, "mailer", "email:send")
    result = send(
        e2e_settings,
        plugin,
        key_file(plugin, tmp_path),
        "users.deactivate",
        "--capability",
        "mailer",
        "--payload",
        '{"user_id": "u-bob"}',
        "--wait",
    )
    assert result.exit_code == 1
    command_id, error = result.output.splitlines()
    assert json.loads(error)["error"]["code"] == "scope_not_granted"
    assert json.loads(error)["error"]["kind"] == "PERMISSION"
    assert audit_rows(world, command_id) == [(1, "denied", "scope_not_granted")]


def test_send_refuses_an_unknown_capability_before_publishing(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    plugin = new_plugin(world, "admin", "users:write")
    result = send(
        e2e_settings,
        plugin,
        key_file(plugin, tmp_path),
        "users.revoke_sessions",
        "--capability",
        "nope",
        "--payload",
        '{"user_id": "u-bob"}',
    )
    assert result.exit_code == 1
    assert "unknown_capability" in result.output
