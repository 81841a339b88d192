"""End to end: rotating a plugin's signing key while it sends loses no command.

The runbook in docs/plugins.md: rotate (the old key stays valid), deploy the
new key to the plugin, then revoke the old key once its commands are through.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from capgate.audit.schema import AuditEventRow
from capgate.contracts.client import CommandHandle, PluginClient
from capgate.contracts.errors import PluginServiceError
from tests.e2e.workers import (
    WorkerProcess,
    audit_rows,
    client_for,
    name,
    registry_admin,
    worker_env,
)
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

OPERATION = "users.revoke_sessions"
COMMANDS = 40
ROTATE_AT = 15  # the old key signs commands 0-24: before and after the rotation
DEPLOY_AT = 25  # the new key signs commands 25-39


def signing_keys(world: World, command_id: str) -> list[str | None]:
    """The key id each audit row of ``command_id`` names."""
    stmt = select(AuditEventRow.key_id).where(AuditEventRow.command_id == command_id)
    with world.runtime.sessions() as session:
        return list(session.scalars(stmt))


def test_a_key_rotated_mid_stream_loses_no_command_and_the_revoked_key_is_refused(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    plugin = world.add_plugin(name(), "admin", {"users:write": None})
    old_client = client_for(plugin, e2e_settings)
    old_key = plugin.key.key_id
    # Without the grant cache the revocation counts from the next command on.
    env = worker_env({**e2e_settings, "CAPGATE_GRANT_CACHE_TTL": "0"})
    worker = WorkerProcess(env, tmp_path / "worker.log")
    sent: list[tuple[CommandHandle, str]] = []
    try:
        worker.wait_ready()
        client = old_client
        for i in range(COMMANDS):
            if i == ROTATE_AT:
                with registry_admin(world) as admin:
                    new_key = admin.rotate_key(plugin.key.plugin_name)
            if i == DEPLOY_AT:
                creds = dataclasses.replace(
                    old_client.credentials, key_id=new_key.key_id, secret=new_key.secret
                )
                client = PluginClient(
                    creds,
                    broker_url=e2e_settings["CAPGATE_BROKER_URL"],
                    result_backend=e2e_settings["CAPGATE_RESULT_BACKEND"],
                )
            sent.append((client.send(OPERATION, {"user_id": "u-bob"}), client.credentials.key_id))
            time.sleep(0.05)  # a steady stream, not one burst
        responses = [handle.result(timeout=60) for handle, _ in sent]
        with registry_admin(world) as admin:
            admin.revoke_key(old_key)
        late = old_client.send(OPERATION, {"user_id": "u-bob"})
        with pytest.raises(PluginServiceError) as caught:
            late.result(timeout=30)
        after = client.call(OPERATION, {"user_id": "u-bob"}, timeout=30)
    finally:
        worker.stop()
    assert len(responses) == COMMANDS and all("revoked" in r for r in responses)
    assert {key for _, key in sent} == {old_key, new_key.key_id}
    for handle, key_id in sent:
        assert audit_rows(world, handle.command_id) == [(1, "succeeded", None)]
        assert signing_keys(world, handle.command_id) == [key_id]
    assert caught.value.code == "revoked_key"
    assert audit_rows(world, late.command_id) == [(1, "rejected", "revoked_key")]
    assert "revoked" in after
