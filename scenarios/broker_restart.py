"""Scenario 3: the broker (a Redis of the scenario's own, append-only) restarts mid-run.

A publisher thread sends ``bundles.enable`` commands (one bundle each) at a
steady pace; after a third of them Redis is shut down (SHUTDOWN writes the
append-only file) and started again on the same port and folder. Every
command whose publish returned must end with exactly one terminal audit
row and its bundle enabled once. Publishes that raised while Redis was
down are counted apart: the plugin was told they failed. Run:
``python -m scenarios.broker_restart``.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from sqlalchemy import select

from capgate.adapters.change_log import ChangeLogEntry
from capgate.contracts.client import PluginClient
from scenarios.aof_trace import commands as aof_commands
from scenarios.aof_trace import trace
from scenarios.stack import (
    Stack,
    print_figures,
    running_stack,
    stored_statuses,
    terminal_summary,
)

__all__ = ["run"]


class _Publisher(threading.Thread):
    """Publishes one command per bundle, ``rate`` per second, remembering what returned."""

    def __init__(self, client: PluginClient, bundle_ids: list[str], rate: float) -> None:
        super().__init__(daemon=True)
        self.client, self.bundle_ids, self.pause = client, bundle_ids, 1.0 / rate
        self.published: list[str] = []
        self.failed: list[str] = []

    def run(self) -> None:
        for bundle in self.bundle_ids:
            try:
                handle = self.client.send("bundles.enable", {"resource_id": bundle})
            except (OperationalError, RedisError, OSError):  # down: the plugin sees it
                self.failed.append(bundle)
            else:
                self.published.append(handle.command_id)
            time.sleep(self.pause)


def _results_not_stored(stack: Stack, ids: list[str], timeout: float) -> int:
    """Commands without a result in the backend once ``timeout`` has passed (a worker
    retries a result it could not store while Redis was down)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = stored_statuses(stack, ids).count(None)
        if missing == 0 or time.monotonic() > deadline:
            return missing
        time.sleep(1.0)


_RECEIVED = re.compile(r"\[([0-9a-f-]{36})\] received")


def run(
    commands: int = 1500,
    rate: float = 50.0,
    down: float = 3.0,
    folder: Path | None = None,
    wait: float = 900.0,
) -> dict[str, Any]:
    """Run the scenario and return its figures; ``wait``: seconds granted to stragglers."""
    with running_stack(folder=folder, appendonly=True) as stack:
        bundle_ids = stack.bundles("b-broker", commands)
        plugin = stack.plugin("toggler", "toggler", {"bundles:write": None})
        plugin_id = plugin.key.plugin_id
        worker = stack.start_worker()
        publisher = _Publisher(stack.client(plugin), bundle_ids, rate)
        started = time.monotonic()
        publisher.start()
        while len(publisher.published) < commands // 3:
            time.sleep(0.05)
        stopped_at = time.monotonic()
        shutdown_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        stack.redis.shutdown()
        done_at_stop = stack.count_terminal(plugin_id)
        time.sleep(down)
        stack.redis.start()
        restarted_at = time.monotonic()
        # kombu 5.7 lets a worker die when its broker goes away (docs/reliability.md);
        # start it again as the container's restart policy would.
        time.sleep(2.0)
        worker_exited = worker.process.poll() is not None
        if worker_exited:
            worker = stack.start_worker()
        stack.wait_terminal_count(plugin_id, done_at_stop + 1, 600)
        recovered = time.monotonic() - stopped_at
        publisher.join()
        ids = list(publisher.published)
        waited = stack.wait_all_terminal(plugin_id, set(ids), wait)
        rows = stack.audit(plugin_id)
        figures = terminal_summary(ids, rows)
        figures["lost"] = _lost(stack, ids, {r.command_id for r in rows})
        figures["results_not_stored"] = _results_not_stored(stack, ids, 60.0)
        with stack.world.runtime.sessions() as session:
            changes = Counter(session.scalars(select(ChangeLogEntry.command_id)))
        figures.update(
            {
                "publish_calls": commands,
                "worker_exited_on_broker_loss": worker_exited,
                "publish_raised_while_down": len(publisher.failed),
                "broker_down_seconds": round(restarted_at - stopped_at, 1),
                "shutdown_at": shutdown_at,
                "seconds_from_shutdown_to_next_completion": round(recovered, 1),
                "seconds_waiting_for_the_rest": round(waited, 1),
                "seconds_total": round(time.monotonic() - started, 1),
                "change_log_rows_per_command": dict(
                    sorted(Counter(changes.get(cid, 0) for cid in ids).items())
                ),
            }
        )
        return figures


def _lost(stack: Stack, ids: list[str], audited: set[str | None]) -> dict[str, Any]:
    """Each published command without any audit row: what the broker's AOF and the
    worker logs say happened to its message (see ``scenarios.aof_trace``)."""
    missing = [cid for cid in ids if cid not in audited]
    if not missing:
        return {}
    stack.redis.shutdown()  # flush the AOF; nothing runs any more
    fates = trace(aof_commands(stack.redis.folder), missing)
    received: Counter[str] = Counter()
    for worker in stack.workers:
        received.update(_RECEIVED.findall(worker.log.read_text(errors="replace")))
    return {cid: {**fates[cid].as_dict(), "worker_log_received": received[cid]} for cid in missing}


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0, help="commands published per second")
    parser.add_argument("--down", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--folder", type=Path, help="keep worker and Redis logs here")
    parser.add_argument(
        "--wait", type=float, default=900.0, help="seconds to wait for the last commands"
    )
    args = parser.parse_args()
    figures = run(args.commands, args.rate, args.down, args.folder, args.wait)
    print_figures("broker_restart", figures)


if __name__ == "__main__":
    main()
