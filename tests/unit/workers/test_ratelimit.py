"""The in-memory GCRA limiter with an injected clock: exact waits, reservations, blocks."""

from __future__ import annotations

import pytest

from capgate.registry.rates import RateLimit, parse_rate
from capgate.workers.ratelimit import MemoryLimitStore, RedisLimitStore, interval_ms


class Clock:
    """A clock the test moves by hand (seconds, like ``time.monotonic``)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms / 1000


THREE_PER_MINUTE = parse_rate("3/minute")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryLimitStore:
    return MemoryLimitStore(clock)


def test_interval_is_the_period_shared_by_the_count() -> None:
    assert interval_ms(THREE_PER_MINUTE) == 20_000
    assert interval_ms(parse_rate("1000/second")) == 1
    # Never zero, even when the count exceeds the period's milliseconds.
    assert interval_ms(RateLimit(count=5000, period="second")) == 1


def test_burst_of_the_count_then_one_per_interval(store: MemoryLimitStore) -> None:
    waits = [store.acquire("k", THREE_PER_MINUTE) for _ in range(3)]
    assert waits == [0, 0, 0]
    assert store.acquire("k", THREE_PER_MINUTE) == 20_000


def test_each_deferred_caller_gets_its_own_later_slot(store: MemoryLimitStore) -> None:
    for _ in range(3):
        store.acquire("k", THREE_PER_MINUTE)
    # Reservations: the 4th, 5th and 6th callers are told different times,
    # one interval apart, instead of all coming back together.
    waits = [store.acquire("k", THREE_PER_MINUTE) for _ in range(3)]
    assert waits == [20_000, 40_000, 60_000]


def test_a_slot_frees_up_after_one_interval(store: MemoryLimitStore, clock: Clock) -> None:
    for _ in range(3):
        store.acquire("k", THREE_PER_MINUTE)
    clock.advance(20_000)
    assert store.acquire("k", THREE_PER_MINUTE) == 0
    assert store.acquire("k", THREE_PER_MINUTE) == 20_000
    clock.advance(5_000)
    assert store.acquire("k", THREE_PER_MINUTE) == 35_000


def test_an_idle_key_recovers_its_full_burst(store: MemoryLimitStore, clock: Clock) -> None:
    for _ in range(5):
        store.acquire("k", THREE_PER_MINUTE)
    clock.advance(60_000 + 40_000)  # the two reservations, then a full period
    assert [store.acquire("k", THREE_PER_MINUTE) for _ in range(4)] == [0, 0, 0, 20_000]


def test_keys_are_limited_separately(store: MemoryLimitStore) -> None:
    one = parse_rate("1/hour")
    assert store.acquire("plugin-a:cap:email:send", one) == 0
    assert store.acquire("plugin-b:cap:email:send", one) == 0
    assert store.acquire("plugin-a:cap:email:send", one) == 3_600_000


def test_a_provider_block_counts_down_and_keeps_the_longest(
    store: MemoryLimitStore, clock: Clock
) -> None:
    assert store.blocked_for("email:relay") == 0
    store.block("email:relay", 30_000)
    clock.advance(10_000)
    assert store.blocked_for("email:relay") == 20_000
    store.block("email:relay", 5_000)  # shorter: does not shorten the block
    assert store.blocked_for("email:relay") == 20_000
    store.block("email:relay", 45_000)  # longer: extends it
    assert store.blocked_for("email:relay") == 45_000
    assert store.blocked_for("email:other") == 0
    clock.advance(45_000)
    assert store.blocked_for("email:relay") == 0


def test_the_redis_script_runs_the_same_algorithm_on_fakeredis() -> None:
    # fakeredis runs Lua only with lupa installed (the fakeredis[lua] extra);
    # capgate does not depend on it, so this runs where it happens to exist.
    pytest.importorskip("lupa")
    import fakeredis

    redis_store = RedisLimitStore(fakeredis.FakeRedis())
    waits = [redis_store.acquire("k", parse_rate("3/hour")) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert 0 < waits[3] <= 1_200_000 < waits[4] <= 2_400_000
