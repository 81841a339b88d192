"""PluginClient on a real Redis: fire-and-forget sends do not subscribe, awaited results arrive."""

from __future__ import annotations

import base64
import json
import threading
import warnings
from collections.abc import Iterator

import pytest
import redis

from capgate.contracts.client import PluginClient, PluginCredentials

pytestmark = pytest.mark.integration

BROKER_DB, RESULTS_DB = 14, 15


@pytest.fixture
def client(redis_url: str) -> Iterator[PluginClient]:
    base = redis_url.rstrip("/")
    for db in (BROKER_DB, RESULTS_DB):
        redis.Redis.from_url(f"{base}/{db}").flushdb()
    credentials = PluginCredentials(
        plugin_name="p-results",
        plugin_id="plugin-results",
        capability_id="cap-results",
        capability_key="ops",
        key_id="key-1",
        secret="s" * 40,
    )
    yield PluginClient(
        credentials, broker_url=f"{base}/{BROKER_DB}", result_backend=f"{base}/{RESULTS_DB}"
    )
    for db in (BROKER_DB, RESULTS_DB):
        redis.Redis.from_url(f"{base}/{db}").flushdb()


def test_a_send_publishes_without_subscribing_to_its_result(
    client: PluginClient, redis_url: str
) -> None:
    handle = client.send("bundles.disable", {"resource_id": "b-1"})
    broker = redis.Redis.from_url(f"{redis_url.rstrip('/')}/{BROKER_DB}")
    assert broker.llen("capgate.bundles") == 1
    # Nothing listens for the result until someone waits for it.
    results = redis.Redis.from_url(f"{redis_url.rstrip('/')}/{RESULTS_DB}")
    assert results.pubsub_channels() == []
    assert handle.command_id


def test_a_result_stored_before_anyone_waited_is_still_returned(client: PluginClient) -> None:
    handle = client.send("bundles.disable", {"resource_id": "b-1"})
    verdict = {"command_id": handle.command_id, "outcome": "succeeded", "response": {"ok": 1}}
    # What the worker does when the command succeeds, before the caller asks
    # (redis-py deprecates the SETEX Celery uses; the worker sees the same).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client._app.backend.mark_as_done(handle.command_id, verdict)
    assert handle.result(timeout=5) == {"ok": 1}


def test_the_message_is_celerys_protocol_2_with_no_body_in_its_argsrepr(
    client: PluginClient, redis_url: str
) -> None:
    handle = client.send("bundles.disable", {"resource_id": "b-secret-id"})
    broker = redis.Redis.from_url(f"{redis_url.rstrip('/')}/{BROKER_DB}")
    [raw] = broker.lrange("capgate.bundles", 0, -1)
    message = json.loads(raw)
    headers = message["headers"]
    assert (headers["task"], headers["id"], headers["root_id"]) == (
        "capgate.bundles.disable",
        handle.command_id,
        handle.command_id,
    )
    shown = headers["argsrepr"]
    assert shown.startswith("(<envelope ") and "b-secret-id" not in shown
    assert message["properties"]["delivery_info"]["routing_key"] == "capgate.bundles"
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert kwargs == {} and json.loads(args[0])["command_id"] == handle.command_id


def test_each_publishing_thread_keeps_one_connection_until_close(
    client: PluginClient, redis_url: str
) -> None:
    def send_three() -> None:
        for _ in range(3):
            client.send("bundles.disable", {"resource_id": "b-1"})

    threads = [threading.Thread(target=send_three) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    send_three()
    broker = redis.Redis.from_url(f"{redis_url.rstrip('/')}/{BROKER_DB}")
    assert broker.llen("capgate.bundles") == 9
    assert len(client._connections) == 3
    client.close()
    assert client._connections == []
    client.send("bundles.disable", {"resource_id": "b-1"})  # reconnects
    assert broker.llen("capgate.bundles") == 10
