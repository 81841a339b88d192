"""Benchmark: what an idle worker costs, and how soon it takes a lone command.

A capgate worker takes messages with a script that cannot block
(workers/claim.py), so with empty queues it asks again every few
milliseconds instead of sleeping in ``BRPOP``. This starts one
``capgate worker`` on a Redis and database of its own, lets it idle, and
prints the CPU its process tree and the Redis server used per second of
idling; then it sends commands one at a time, each after the last
completed and a pause, and prints the time from publish to the audit row
(so every command meets an idle worker).

Run from the repository root: ``python -m benchmarks.idle_cost``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import redis
from sqlalchemy import select

from benchmarks.bench_support import tree_usage
from capgate.audit.schema import AuditEventRow
from scenarios.stack import Stack, running_stack


def redis_cpu(url: str) -> float:
    """CPU seconds the Redis server has used (user + system)."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def idle_cpu(stack: Stack, pid: int, seconds: float) -> dict[str, float]:
    """Milliseconds of CPU per second of idling: the worker's tree, the Redis server."""
    time.sleep(3.0)  # start-up work (mingle, first sweeps) is over
    broker = stack.settings["CAPGATE_BROKER_URL"]
    worker_before, redis_before = tree_usage(pid)[0], redis_cpu(broker)
    time.sleep(seconds)
    worker_after, redis_after = tree_usage(pid)[0], redis_cpu(broker)
    return {
        "worker_cpu_ms_per_s": round((worker_after - worker_before) * 1000 / seconds, 2),
        "redis_cpu_ms_per_s": round((redis_after - redis_before) * 1000 / seconds, 2),
    }


def lone_latencies(stack: Stack, commands: int, pause: float) -> list[float]:
    """Publish-to-audit-row milliseconds of commands sent one at a time to an idle worker."""
    plugin = stack.plugin("toggler", "toggler", {"bundles:write": None})
    client = stack.client(plugin)
    bundles = stack.bundles("idle", commands)
    latencies = []
    for bundle in bundles:
        time.sleep(pause)  # the worker has gone idle again
        sent = time.time()
        command_id = client.send("bundles.enable", {"resource_id": bundle}).command_id
        recorded = wait_recorded(stack, command_id)
        latencies.append((recorded - sent) * 1000)
    return latencies


def wait_recorded(stack: Stack, command_id: str, timeout: float = 30.0) -> float:
    """The audit row's ``recorded_at`` (epoch seconds) of ``command_id``'s terminal row."""
    deadline = time.monotonic() + timeout
    stmt = select(AuditEventRow.recorded_at).where(AuditEventRow.command_id == command_id)
    while time.monotonic() < deadline:
        with stack.world.runtime.sessions() as session:
            found = session.scalar(stmt)
        if found is not None:
            return found.timestamp()
        time.sleep(0.002)
    raise TimeoutError(f"no audit row for {command_id}")


def run(seconds: float, commands: int, pause: float) -> dict[str, Any]:
    """Start the worker, measure; the figures."""
    with running_stack() as stack:
        worker = stack.start_worker()
        figures: dict[str, Any] = idle_cpu(stack, worker.process.pid, seconds)
        latencies = sorted(lone_latencies(stack, commands, pause))
    figures["lone_command_latency_ms"] = {
        "p50": round(statistics.median(latencies), 1),
        "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "max": round(latencies[-1], 1),
    }
    return figures


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="idle time measured")
    parser.add_argument("--commands", type=int, default=40, help="lone commands timed")
    parser.add_argument("--pause", type=float, default=0.3, help="idle time before each")
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.commands, args.pause), indent=2))


if __name__ == "__main__":
    main()
