"""A full garbage collection follows a command with a big envelope, in either way of starting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from capgate.workers import memory


def test_only_a_big_envelope_triggers_a_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    monkeypatch.setattr(memory.gc, "collect", lambda: runs.append(1) or 0)
    memory._collect_after(args=["x" * 100])
    memory._collect_after(args=None)
    assert runs == []
    memory._collect_after(args=["x" * memory.BIG_ENVELOPE_BYTES])
    assert runs == [1]


def test_the_celery_a_entry_point_connects_it_too(tmp_path: object) -> None:
    code = (
        "from celery.signals import task_postrun;"
        "import capgate.workers.main;"
        "from capgate.workers.memory import _collect_after;"
        "print(any(r[1] is _collect_after for r in task_postrun.receivers))"
    )
    env = {"CAPGATE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "CAPGATE_SECRET": "s" * 40}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "True"
