"""The Redis ACL of docs/broker-acl.md, applied to a redis-server of our own.

The test starts its own ``redis-server`` (so the shared server's users are
never touched), runs the ACL SETUSER line the document gives, and checks
what a plugin's credentials can and cannot do.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.services import free_port, port_open, unavailable

pytestmark = pytest.mark.integration

PASSWORD = "alpha-broker-password"
# The line docs/broker-acl.md tells operators to run for plugin "alpha",
# whose operations are all in the users service.
PLUGIN_ACL = f"ACL SETUSER plugin-alpha reset on >{PASSWORD} +lpush +select +ping %W~capgate.users"


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server (the binary)")
    assert binary is not None
    port = free_port()
    command = [binary, "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        [*command, "--dir", str(tmp_path), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", port):
            if server.poll() is not None or time.monotonic() > deadline:
                unavailable(f"a redis-server of our own on port {port}")
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def admin(redis_port: int) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_port, db=0)
    client.execute_command(*PLUGIN_ACL.split())
    yield client
    client.close()


@pytest.fixture
def plugin(redis_port: int, admin: redis.Redis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_port, db=3, username="plugin-alpha", password=PASSWORD)
    yield client
    client.close()


def test_a_plugin_can_push_to_its_own_queue(plugin: redis.Redis, admin: redis.Redis) -> None:
    assert plugin.lpush("capgate.users", '{"a message": 1}') == 1
    admin.execute_command("SELECT", 3)
    assert admin.rpop("capgate.users") == b'{"a message": 1}'


@pytest.mark.parametrize("queue", ["capgate.email_providers", "capgate.internal", "unacked"])
def test_a_plugin_cannot_push_anywhere_else(plugin: redis.Redis, queue: str) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.lpush(queue, "{}")


@pytest.mark.parametrize("queue", ["capgate.users", "capgate.email_providers"])
def test_a_plugin_cannot_read_or_take_from_any_queue(plugin: redis.Redis, queue: str) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.lrange(queue, 0, -1)
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.brpop([queue], timeout=1)
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.llen(queue)


@pytest.mark.parametrize(
    "key", ["celery-task-meta-some-command", "_kombu.binding.capgate", "capgate:rate:x"]
)
def test_a_plugin_cannot_read_or_change_other_keys(
    plugin: redis.Redis, admin: redis.Redis, key: str
) -> None:
    admin.execute_command("SELECT", 3)
    admin.set(key, "secret")
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.get(key)
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.smembers(key)
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.sadd(key, "capgate.users\x06\x16\x06\x16capgate.internal")
    with pytest.raises(redis.exceptions.NoPermissionError):
        plugin.keys("*")
