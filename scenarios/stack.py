"""One scenario's capgate: own Redis, own database, workers, plugins, and the audit trail.

``running_stack`` builds everything a scenario needs and tears it down;
``terminal_summary`` turns the audit rows of the commands a scenario sent
into its figures (completed, missing, terminal rows per command).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from capgate.adapters.resource_tables import Bundle
from capgate.adapters.seed import seed_demo_data
from capgate.audit.schema import AuditEventRow
from capgate.contracts.client import PluginClient
from capgate.database import unit_of_work
from scenarios.servers import RedisServer, own_database
from tests.e2e.workers import WorkerProcess, client_for, worker_env, worker_settings
from tests.support.world import Plugin, World

__all__ = ["TERMINAL", "Stack", "print_figures", "running_stack", "terminal_summary"]

TERMINAL = frozenset(
    {"succeeded", "failed", "denied", "rejected", "rate_limited", "dead_lettered", "deduplicated"}
)
"""Audit outcomes that end a command (``retry_scheduled`` does not)."""


@dataclass
class Stack:
    """The scenario's settings, world (direct database access) and workers."""

    folder: Path
    redis: RedisServer
    settings: dict[str, str]
    world: World
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(self, *args: str) -> WorkerProcess:
        """Start one more ``capgate worker`` and wait until it is ready."""
        log = self.folder / f"worker-{len(self.workers) + 1}.log"
        worker = WorkerProcess(worker_env(self.settings), log, *args)
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def plugin(self, name: str, capability: str, scopes: Mapping[str, str | None]) -> Plugin:
        """Register a plugin with ``scopes`` granted."""
        return self.world.add_plugin(name, capability, scopes)

    def client(self, plugin: Plugin) -> PluginClient:
        """A client publishing as ``plugin`` to this stack's broker."""
        return client_for(plugin, self.settings)

    def mailer(self, smtp_port: int) -> tuple[Plugin, PluginClient]:
        """A plugin with email:send whose default provider is SMTP on ``smtp_port``."""
        plugin = self.plugin("mailer", "mailer", {"email:send": None})
        client = self.client(plugin)
        config = {"host": "127.0.0.1", "port": smtp_port, "security": "none"}
        config["sender"] = "a@example.com"
        payload = {"name": "relay", "kind": "smtp", "config": config}
        client.call("email.register_provider", payload, timeout=60)
        return plugin, client

    def bundles(self, prefix: str, count: int) -> list[str]:
        """Create ``count`` disabled bundles; their ids."""
        ids = [f"{prefix}-{number}" for number in range(count)]
        with unit_of_work(self.world.runtime.sessions) as session:
            session.add_all(Bundle(id=b, name=b, enabled=False) for b in ids)
        return ids

    def audit(self, plugin_id: str) -> list[AuditEventRow]:
        """Every audit row of ``plugin_id``'s commands, oldest first."""
        with self.world.runtime.sessions() as session:
            stmt = (
                select(AuditEventRow)
                .where(AuditEventRow.plugin_id == plugin_id)
                .order_by(AuditEventRow.id)
            )
            rows = list(session.scalars(stmt))
            session.expunge_all()
            return rows

    def count_terminal(self, plugin_id: str) -> int:
        """How many terminal audit rows ``plugin_id``'s commands have so far."""
        with self.world.runtime.sessions() as session:
            stmt = (
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.plugin_id == plugin_id)
                .where(AuditEventRow.outcome.in_(TERMINAL))
            )
            return int(session.scalar(stmt) or 0)

    def wait_terminal_count(self, plugin_id: str, count: int, timeout: float) -> float:
        """Wait until ``plugin_id`` has ``count`` terminal rows; seconds waited."""
        start = time.monotonic()
        while self.count_terminal(plugin_id) < count:
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"fewer than {count} terminal rows after {timeout}s")
            time.sleep(0.2)
        return time.monotonic() - start

    def wait_all_terminal(self, plugin_id: str, ids: set[str], timeout: float) -> float:
        """Wait until every command in ``ids`` has a terminal row; seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            done = {r.command_id for r in self.audit(plugin_id) if r.outcome in TERMINAL}
            if ids <= done:
                break
            time.sleep(1.0)
        return time.monotonic() - start


@contextmanager
def running_stack(
    *,
    appendonly: bool = False,
    folder: Path | None = None,
    **overrides: str,
) -> Iterator[Stack]:
    """Own Redis + own database + settings; workers started by the scenario are stopped."""
    with tempfile.TemporaryDirectory(prefix="capgate-scenario-") as tmp:
        base = folder or Path(tmp)
        redis = RedisServer(base / "redis", appendonly=appendonly)
        redis.start()
        try:
            with own_database() as database_url:
                urls = (redis.url(0), redis.url(1), redis.url(2))
                settings = {**worker_settings(database_url, *urls, base), **overrides}
                world = World.create(database_url)
                with unit_of_work(world.runtime.sessions) as session:
                    seed_demo_data(session)
                stack = Stack(base, redis, settings, world)
                try:
                    yield stack
                finally:
                    for worker in stack.workers:
                        worker.stop()
                    world.runtime.close()
        finally:
            redis.shutdown()


def terminal_summary(ids: list[str], rows: list[AuditEventRow]) -> dict[str, Any]:
    """Figures of the commands ``ids`` from their audit rows."""
    terminal: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.command_id is not None and row.outcome in TERMINAL:
            terminal[row.command_id].append(row.outcome)
    wanted = set(ids)
    outcomes = Counter(outcome for cid in wanted for outcome in terminal.get(cid, []))
    return {
        "sent": len(ids),
        "completed": sum(1 for cid in wanted if terminal.get(cid) == ["succeeded"]),
        "missing": sum(1 for cid in wanted if not terminal.get(cid)),
        "more_than_one_terminal_row": sum(1 for cid in wanted if len(terminal.get(cid, [])) > 1),
        "terminal_outcomes": dict(sorted(outcomes.items())),
    }


def print_figures(name: str, figures: Mapping[str, Any]) -> None:
    """Print a scenario's figures as one JSON document."""
    print(json.dumps({"scenario": name, **figures}, indent=2, sort_keys=True))


def stored_statuses(stack: Stack, ids: list[str]) -> list[str | None]:
    """The state the result backend holds for each command (None: no result stored)."""
    client = redis.Redis.from_url(stack.settings["CAPGATE_RESULT_BACKEND"])
    try:
        values = client.mget([f"celery-task-meta-{cid}" for cid in ids])
    finally:
        client.close()
    return [json.loads(raw)["status"] if raw else None for raw in values]
