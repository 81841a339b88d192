"""Shared by the operations tests (Flower, metrics, health): a world, a plugin client, waits.

They use Redis databases 7-9, apart from the other end-to-end tests (11-13),
so that both can run at once on one machine.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from capgate.adapters.seed import seed_demo_data
from capgate.contracts.client import PluginClient, PluginCredentials
from capgate.database import unit_of_work
from tests.conftest import _reset_postgres
from tests.e2e.workers import settings_for
from tests.support.world import Plugin, World

T = TypeVar("T")


def ops_settings(postgres_url: str, redis_url: str, folder: Path) -> dict[str, str]:
    """CAPGATE_* settings on Redis databases 7-9 (emptied first)."""
    return settings_for(postgres_url, redis_url, folder, databases=(7, 8, 9))


@contextmanager
def seeded_world(database_url: str) -> Iterator[World]:
    """A migrated, seeded database; emptied afterwards for the next test."""
    world = World.create(database_url)
    with unit_of_work(world.runtime.sessions) as session:
        seed_demo_data(session)
    try:
        yield world
    finally:
        _reset_postgres(world.runtime.engine)
        world.runtime.close()


def unique(prefix: str = "p") -> str:
    """A unique plugin name."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def client_for(plugin: Plugin, settings: dict[str, str]) -> PluginClient:
    """A plugin client publishing to the settings' broker."""
    key = plugin.key
    creds = PluginCredentials(
        key.plugin_name,
        key.plugin_id,
        plugin.capability_id,
        plugin.capability_key,
        key.key_id,
        key.secret,
    )
    return PluginClient(
        creds,
        broker_url=settings["CAPGATE_BROKER_URL"],
        result_backend=settings["CAPGATE_RESULT_BACKEND"],
    )


def wait_for(read: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``read`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.3)


def http_get(url: str, *, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``url``; (status, body), also for error statuses."""
    request = urllib.request.Request(url)
    if auth is not None:
        token = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_json(url: str, *, auth: tuple[str, str] | None = None) -> Any:
    """GET ``url`` and parse JSON (fails on a non-200 status)."""
    status, body = http_get(url, auth=auth)
    assert status == 200, f"{url}: HTTP {status}: {body[:200]!r}"
    return json.loads(body)
