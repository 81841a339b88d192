"""Helpers of benchmarks/pipeline_vs_celery.py: worker processes, drain watching, raw messages.

Nothing here knows capgate: a worker is a command line and an environment,
a queue is a Redis list (Kombu's Redis transport: the list named after the
queue, plus the ``unacked`` hash holding each delivered, unacknowledged
message), and the process tree's CPU and memory are read from ``/proc``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
UNACKED = "unacked"
"""Kombu's hash of delivered, unacknowledged messages (late acknowledgement)."""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        found.extend(int(child) for child in text.split())
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (alive now)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def _stat(pid: int) -> tuple[float, int]:
    """(user+system CPU seconds, RSS bytes) of one process; zeros if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0
    fields = text.rsplit(")", 1)[1].split()
    # Fields after the command name: utime is the 12th, stime 13th, rss 22nd.
    return (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE


def tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds and RSS bytes summed over ``pid``'s process tree."""
    cpu, rss = 0.0, 0
    for member in process_tree(pid):
        used, resident = _stat(member)
        cpu, rss = cpu + used, rss + resident
    return cpu, rss


def server_cpu(database: str, redis_port: int) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database`` and of the Redis server.

    A backend's title names its database (``postgres: 15/main: user db ...``);
    PostgreSQL's shared processes (WAL writer, checkpointer) are left out,
    since other databases use them too.
    """
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        backend = title.startswith("postgres:") and f" {database} " in title
        broker = "redis-server" in title and f":{redis_port}" in title
        if backend or broker:
            found[int(entry.name)] = _stat(int(entry.name))[0]
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two :func:`server_cpu` readings (new processes counted whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class Worker:
    """A worker command in its own process group, with its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The main process id."""
        return self.process.pid

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until Celery logs 'ready'; raise with the log's tail if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        """Warm shutdown of the whole group; SIGKILL after 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._handle.close()


@dataclass
class Drain:
    """What a worker did while it emptied a queue."""

    acked: int
    seconds: float
    cpu_seconds: float
    peak_rss: int
    server_cpu_seconds: float = 0.0
    """PostgreSQL backends of the benchmark's database plus Redis, over the same span."""
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Acknowledged messages per second, first to last acknowledgement."""
        return self.acked / self.seconds if self.seconds > 0 else 0.0


def outstanding(broker: redis.Redis, queue: str) -> int:
    """Messages not yet acknowledged: waiting in the list plus delivered-unacked."""
    with broker.pipeline(transaction=False) as pipe:
        pipe.llen(queue)
        pipe.hlen(UNACKED)
        waiting, unacked = pipe.execute()
    return int(waiting) + int(unacked)


def watch_drain(
    broker: redis.Redis,
    queue: str,
    total: int,
    worker_pid: int,
    timeout: float,
    servers: Callable[[], dict[int, float]] = dict,
) -> Drain:
    """Poll until nothing is outstanding; time from the first acknowledgement to the last.

    The worker's start-up (imports, forking, connecting) is therefore not in
    the rate; its CPU is (it is sampled at the first acknowledgement too).
    """
    deadline = time.monotonic() + timeout
    start = cpu_start = None
    left, peak, samples, polls, first_left, end = total, 0, [], 0, total, None
    while True:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{left} of {total} messages not acknowledged in {timeout}s")
        left = outstanding(broker, queue)
        now = time.perf_counter()
        # Kombu moves a message from the list to the unacked hash in two steps,
        # so one empty reading may be a message in between: wait for a second.
        if left == 0 and end is not None:
            break
        end = now if left == 0 else None
        if start is None and left < total:
            start, first_left = now, left
            cpu_start, rss = tree_usage(worker_pid)
            servers_start = servers()
            peak = max(peak, rss)
        elif polls % 20 == 0:  # /proc walks cost CPU too: every ~0.2 s is enough
            peak = max(peak, tree_usage(worker_pid)[1])
            if start is not None:
                samples.append((now - start, left))
        polls += 1
        time.sleep(0.01)
    cpu_end, _ = tree_usage(worker_pid)
    if start is None or cpu_start is None or end is None or first_left == 0:
        raise RuntimeError("the queue emptied between two readings: use more messages")
    used = cpu_used(servers_start, servers())
    return Drain(first_left, end - start, cpu_end - cpu_start, peak, used, samples)


def raw_message(
    task: str, task_id: str, args: list[Any], kwargs: dict[str, Any], queue: str, exchange: str
) -> str:
    """A Celery protocol-2 JSON message as Kombu's Redis transport stores it (wire-format 8.2)."""
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([args, kwargs, embed]).encode("utf-8")
    return json.dumps(
        {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py", "task": task, "id": task_id, "root_id": task_id,
                "parent_id": None, "group": None, "argsrepr": "(<redacted>,)",
                "kwargsrepr": "{}", "origin": "bench@localhost", "retries": 0, "eta": None,
                "expires": None, "timelimit": [None, None], "ignore_result": False,
            },
            "properties": {
                "correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
                "delivery_info": {"exchange": exchange, "routing_key": queue},
                "priority": 0, "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
            },
        }
    )  # fmt: skip


def percentiles(values: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles of ``values`` (ms in, ms out), plus the max."""
    ordered = sorted(values)
    if not ordered:
        return {}
    result = {
        f"p{p}": ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))]
        for p in points
    }
    result["max"] = ordered[-1]
    return result


def median(values: list[float]) -> float:
    """The median (the middle run of three)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
