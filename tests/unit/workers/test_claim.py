"""The idle wait between asks of a worker whose queues are empty (workers/claim.py)."""

from __future__ import annotations

import pytest

from capgate.workers.claim import IdleWait


def test_the_wait_doubles_while_the_queues_stay_empty_up_to_its_cap() -> None:
    idle = IdleWait(first=0.001, longest=0.025)
    delays = []
    for _ in range(7):
        idle.empty()
        delays.append(idle.delay)
    assert delays == [0.001, 0.002, 0.004, 0.008, 0.016, 0.025, 0.025]
    assert 0 < idle.remaining() <= 0.025


def test_after_a_longer_idle_spell_the_wait_grows_to_the_relaxed_cap() -> None:
    idle = IdleWait(first=0.001, longest=0.01, relaxed=0.05, relax_after=1.0)
    idle.empty()
    assert idle.idle_since is not None
    idle.idle_since -= 1.0  # the queues have been empty for a second
    delays = []
    for _ in range(5):
        idle.empty()
        delays.append(idle.delay)
    assert delays == [0.002, 0.004, 0.008, 0.016, 0.032]
    idle.empty()
    assert idle.delay == 0.05
    idle.found()
    idle.empty()
    assert idle.delay == 0.001  # a message came: back to the short waits
    for _ in range(6):
        idle.empty()
    assert idle.delay == 0.01


def test_a_message_ends_the_wait_at_once() -> None:
    idle = IdleWait()
    idle.empty()
    idle.empty()
    idle.found()
    assert idle.remaining() == 0.0
    idle.empty()
    assert idle.delay == idle.first  # starts from the shortest wait again


def test_a_refusal_waits_at_least_the_given_time() -> None:
    idle = IdleWait(longest=0.025)
    idle.empty(at_least=1.0)
    assert idle.delay == 1.0
    assert idle.remaining() == pytest.approx(1.0, abs=0.05)
