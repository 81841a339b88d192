"""The Redis limiter on a real Redis server: GCRA on the server's clock, shared, failing closed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.registry.rates import parse_rate
from capgate.workers.ratelimit import MemoryLimitStore, RedisLimitStore
from tests.support.services import free_port

pytestmark = pytest.mark.integration

PER_HOUR = parse_rate("3/hour")  # one slot every 1 200 000 ms
INTERVAL = 1_200_000
# Real time passes between the calls of one test (milliseconds, not minutes):
# waits are compared with this much slack.
SLACK_MS = 5_000


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(f"{redis_url.rstrip('/')}/5")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def store(client: redis.Redis) -> RedisLimitStore:
    return RedisLimitStore(client)


def key() -> str:
    return f"plugin-{uuid.uuid4().hex[:8]}:cap:email:send"


def test_burst_then_waits_of_one_interval(store: RedisLimitStore) -> None:
    k = key()
    assert [store.acquire(k, PER_HOUR) for _ in range(3)] == [0, 0, 0]
    wait = store.acquire(k, PER_HOUR)
    assert INTERVAL - SLACK_MS < wait <= INTERVAL


def test_deferred_callers_get_increasing_reserved_waits(store: RedisLimitStore) -> None:
    k = key()
    for _ in range(3):
        store.acquire(k, PER_HOUR)
    waits = [store.acquire(k, PER_HOUR) for _ in range(4)]
    # Each deferred caller holds its own slot, one interval after the last.
    for n, wait in enumerate(waits, start=1):
        assert n * INTERVAL - SLACK_MS < wait <= n * INTERVAL
    assert waits == sorted(set(waits))


def test_two_workers_share_one_limit(store: RedisLimitStore, redis_url: str) -> None:
    other_client = redis.Redis.from_url(f"{redis_url.rstrip('/')}/5")
    other = RedisLimitStore(other_client)
    k = key()
    try:
        assert [store.acquire(k, PER_HOUR), other.acquire(k, PER_HOUR)] == [0, 0]
        assert store.acquire(k, PER_HOUR) == 0
        assert other.acquire(k, PER_HOUR) > INTERVAL - SLACK_MS
    finally:
        other_client.close()


def test_the_key_expires_when_its_state_no_longer_matters(
    store: RedisLimitStore, client: redis.Redis
) -> None:
    k = key()
    store.acquire(k, parse_rate("2/second"))
    ttl = client.pttl(f"capgate:rl:{k}")
    assert 0 < ttl <= 500


def test_the_script_and_the_memory_store_agree(store: RedisLimitStore, client: redis.Redis) -> None:
    def server_clock() -> float:
        seconds, micros = client.time()
        return seconds + micros / 1_000_000

    memory = MemoryLimitStore(server_clock)
    sequence = [parse_rate("3/hour")] * 5 + [parse_rate("2/minute")] * 4 + [PER_HOUR] * 2
    keys = {str(rate): key() for rate in sequence}
    from_redis = [store.acquire(keys[str(rate)], rate) for rate in sequence]
    from_memory = [memory.acquire(keys[str(rate)], rate) for rate in sequence]
    assert [w == 0 for w in from_redis] == [w == 0 for w in from_memory]
    # Same algorithm, same clock: the waits differ only by the time between calls.
    for redis_wait, memory_wait in zip(from_redis, from_memory, strict=True):
        assert abs(redis_wait - memory_wait) < SLACK_MS


def test_a_provider_block_keeps_the_longest(store: RedisLimitStore) -> None:
    provider = f"email:{uuid.uuid4().hex[:8]}"
    assert store.blocked_for(provider) == 0
    store.block(provider, 60_000)
    store.block(provider, 1_000)  # shorter: ignored
    assert 60_000 - SLACK_MS < store.blocked_for(provider) <= 60_000
    store.block(provider, 120_000)  # longer: extends
    assert 120_000 - SLACK_MS < store.blocked_for(provider) <= 120_000


def test_a_provider_block_is_seen_by_every_worker(store: RedisLimitStore, redis_url: str) -> None:
    other_client = redis.Redis.from_url(f"{redis_url.rstrip('/')}/5")
    try:
        store.block("email:gmail", 30_000)
        assert RedisLimitStore(other_client).blocked_for("email:gmail") > 30_000 - SLACK_MS
    finally:
        other_client.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.acquire("k", PER_HOUR),
        lambda s: s.block("email:relay", 1_000),
        lambda s: s.blocked_for("email:relay"),
    ],
    ids=["acquire", "block", "blocked_for"],
)
def test_an_unreachable_store_fails_closed(call: Callable[[RedisLimitStore], object]) -> None:
    # No client-side retries (redis-py retries with backoff by default): the
    # store itself must turn the first failure into the RETRYABLE error.
    client = redis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    store = RedisLimitStore(client)
    with pytest.raises(PluginServiceError) as caught:
        call(store)
    assert caught.value.kind is ErrorKind.RETRYABLE
    assert caught.value.code == "rate_limiter_unavailable"
    assert caught.value.retry_after_ms is not None and caught.value.retry_after_ms > 0
