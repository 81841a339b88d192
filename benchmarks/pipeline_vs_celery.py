"""Benchmark: the price of capgate's guarantees, against bare Celery, in one run.

Not a test (pytest collects only ``tests/``). Run from the repository root:

    .venv/bin/python benchmarks/pipeline_vs_celery.py --messages 20000 [--runs 3]
        [--json out.json] [--rate 200] [--latency-seconds 10]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis redis://127.0.0.1:6379]

It creates a scratch PostgreSQL database (dropped at the end) and uses Redis
databases 9 (broker) and 10 (results, rate limits, latency marks), emptied
before each case. Four systems, each a real worker (prefork, ``--concurrency`` 2,
prefetch multiplier 1, late acknowledgement):

- ``capgate``: ``capgate worker`` running ``bundles.enable``/``disable``
  commands through the whole pipeline (signature, registry, scopes, a Redis
  rate-limit call, idempotency, the toggle, the chained audit row, commit,
  then the acknowledgement);
- ``capgate_lean``: the same worker with ``CAPGATE_TASK_EVENTS=false``
  (no task events, so no Flower), to show what that setting costs;
- ``bare_noop``: a Celery task that does nothing;
- ``bare_audit``: a Celery task that commits one audit-like row per task.

Per system and run: publish rate (one message at a time; a batch of raw
messages pushed through a Redis pipeline), drain rate (N messages queued,
then the worker started; first to last acknowledgement), worker CPU per
message and peak RSS (the worker's process tree), end-to-end latency at a
fixed offered rate (publish to audit row recorded, or to the no-op's end).
The table shows medians over runs; the JSON holds every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bench_world as world  # noqa: E402
from benchmarks.bare_celery_app import MARKS, QUEUE, TABLE  # noqa: E402
from benchmarks.bench_support import (  # noqa: E402
    Worker,
    median,
    outstanding,
    percentiles,
    raw_message,
    server_cpu,
    watch_drain,
)
from capgate.contracts.catalog import get_operation  # noqa: E402
from capgate.contracts.client import PluginClient  # noqa: E402

BIN = Path(sys.executable).parent
SYSTEMS = ("bare_noop", "bare_audit", "capgate", "capgate_lean")
BATCH = 100


class Case:
    """One system in one run: how to publish to it and how to start its worker."""

    def __init__(self, system: str, ctx: dict[str, Any]) -> None:
        self.system, self.ctx = system, ctx
        self.broker: redis.Redis = ctx["broker"]
        self.capgate = system.startswith("capgate")
        if self.capgate:
            self.queue = get_operation("bundles.enable").queue
            self.exchange = "capgate"
        else:
            self.queue, self.exchange = QUEUE, QUEUE
            self.task = "bench.noop" if system == "bare_noop" else "bench.audit_row"

    # -- publishing -------------------------------------------------------
    def send_one(self, index: int, sent_at: float | None = None) -> str:
        """Publish message ``index`` the ordinary way; returns its task id."""
        if self.capgate:
            client: PluginClient = self.ctx["client"]
            operation, payload = world.toggle(index, self.ctx["padding"])
            return client.send(operation, payload).command_id
        kwargs = {} if sent_at is None else {"sent_at": sent_at}
        app: Celery = self.ctx["bare_app"]
        result = app.send_task(self.task, args=[self.ctx["blob"]], kwargs=kwargs, queue=QUEUE)
        return str(result.id)

    def raw(self, index: int) -> str:
        """Message ``index`` as the raw JSON pushed by a batch publisher."""
        task_id = str(uuid.uuid4())
        if self.capgate:
            client: PluginClient = self.ctx["client"]
            operation, payload = world.toggle(index, self.ctx["padding"])
            envelope = client.envelope(operation, payload, command_id=task_id)
            task = get_operation(operation).task_name
            return raw_message(task, task_id, [envelope], {}, self.queue, self.exchange)
        return raw_message(self.task, task_id, [self.ctx["blob"]], {}, self.queue, self.exchange)

    def publish_single(self, count: int) -> float:
        """Publish ``count`` messages one by one; messages per second."""
        start = time.perf_counter()
        for index in range(count):
            self.send_one(index)
        return count / (time.perf_counter() - start)

    def publish_batch(self, count: int) -> float:
        """Build and LPUSH ``count`` messages in pipelines of 100; messages per second."""
        start = time.perf_counter()
        for first in range(0, count, BATCH):
            messages = [self.raw(i) for i in range(first, min(count, first + BATCH))]
            self.broker.lpush(self.queue, *messages)
        return count / (time.perf_counter() - start)

    def publish_presigned(self, count: int) -> float:
        """capgate only: ``PluginClient.publish`` of envelopes signed beforehand."""
        client: PluginClient = self.ctx["client"]
        ready = []
        for index in range(count):
            operation, payload = world.toggle(index, self.ctx["padding"])
            command_id = str(uuid.uuid4())
            text = client.envelope(operation, payload, command_id=command_id)
            ready.append((operation, text, command_id))
        start = time.perf_counter()
        for operation, text, command_id in ready:
            client.publish(operation, text, command_id)
        return count / (time.perf_counter() - start)

    # -- the worker --------------------------------------------------------
    def start_worker(self, log: Path) -> Worker:
        """Start this system's worker (prefork, 2 processes, prefetch 1, late ack)."""
        ctx, level = self.ctx, self.ctx["loglevel"]
        processes = f"--concurrency={ctx.get('concurrency', 2)}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPGATE_", "BENCH_"))}
        name = f"--hostname=bench{uuid.uuid4().hex[:6]}@%h"
        if self.capgate:
            env.update(ctx["capgate_env"])
            if self.system == "capgate_lean":
                env["CAPGATE_TASK_EVENTS"] = "false"
            command = [str(BIN / "capgate"), "worker", processes, "--pool=prefork"]
            command += ["-Q", self.queue, f"--loglevel={level}", name]
        else:
            env.update(ctx["bare_env"], PYTHONPATH=str(ROOT))
            command = [str(BIN / "celery"), "-A", "benchmarks.bare_celery_app", "worker"]
            command += ["--pool=prefork", processes, "-Q", QUEUE, f"--loglevel={level}"]
            command += [name]
        return Worker(command, env, log, ROOT)

    # -- latency -----------------------------------------------------------
    def latency(self, rate: float, seconds: float) -> dict[str, float]:
        """Publish at ``rate``/s for ``seconds``; percentiles of publish -> done, in ms."""
        count = max(1, int(rate * seconds))
        sent: dict[str, float] = {}
        begin = time.perf_counter()
        for index in range(count):
            due = begin + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            now = time.time()
            sent[self.send_one(index, sent_at=now)] = now
        _wait(lambda: outstanding(self.broker, self.queue) == 0, 120)
        done = self._done_times(sent)
        missing = len(sent) - len(done)
        if missing:
            raise RuntimeError(f"{self.system}: {missing} latency messages have no completion")
        return percentiles([(done[key] - sent[key]) * 1000 for key in sent])

    def _done_times(self, sent: dict[str, float]) -> dict[str, float]:
        if self.capgate:
            return world.audit_times(self.ctx["database_url"], list(sent))
        if self.system == "bare_noop":
            marks = self.ctx["marks"]
            _wait(lambda: marks.llen(MARKS) >= len(sent), 30)
            rows = [line.decode().split() for line in marks.lrange(MARKS, 0, -1)]
            return {task_id: float(done) for task_id, _, done in rows}
        return _bare_audit_times(self.ctx["database_url"])


def _bare_audit_times(url: str) -> dict[str, float]:
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT command_id, extract(epoch FROM recorded_at)::float8 FROM bench_audit"
            " WHERE sent_at IS NOT NULL"
        ).fetchall()
    return {str(task_id): float(at) for task_id, at in rows}


def _bare_audit_rows(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM bench_audit").fetchone()
    return int(row[0]) if row else 0


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the workers")
        time.sleep(0.02)


def run_case(case: Case, args: argparse.Namespace, logs: Path, run: int) -> dict[str, Any]:
    """Publish, drain and measure latency for one system; the figures of this run."""
    ctx = case.ctx
    for client in (ctx["broker"], ctx["marks"]):
        client.flushdb()
    if case.system == "bare_audit":
        _truncate(ctx["database_url"])
    result: dict[str, Any] = {"batch_publish_per_s": case.publish_batch(args.messages)}
    case.broker.delete(case.queue)
    if case.capgate:
        result["presigned_publish_per_s"] = case.publish_presigned(args.messages)
        case.broker.delete(case.queue)
    result["single_publish_per_s"] = case.publish_single(args.messages)
    queued = outstanding(case.broker, case.queue)
    if queued != args.messages:
        raise RuntimeError(f"{case.system}: {queued} messages queued, expected {args.messages}")
    before = world.outcome_counts(ctx["database_url"]) if case.capgate else {}
    worker = case.start_worker(logs / f"{case.system}-{run}.log")
    try:
        database = ctx["database_url"].rsplit("/", 1)[1]
        port = case.broker.connection_pool.connection_kwargs.get("port", 6379)
        drain = watch_drain(
            case.broker,
            case.queue,
            args.messages,
            worker.pid,
            timeout=600,
            servers=lambda: server_cpu(database, port),
        )
        result.update(
            drain_per_s=drain.rate,
            drained=drain.acked,
            drain_seconds=drain.seconds,
            cpu_ms_per_message=drain.cpu_seconds * 1000 / max(1, drain.acked),
            server_cpu_ms_per_message=drain.server_cpu_seconds * 1000 / max(1, drain.acked),
            peak_rss_mb=drain.peak_rss / 2**20,
        )
        result["audited"] = _audited(case, before, args.messages)
        if args.latency_seconds > 0:
            latency = case.latency(args.rate, args.latency_seconds)
            result.update({f"latency_{k}_ms": v for k, v in latency.items()})
    finally:
        worker.stop()
    return result


def _audited(case: Case, before: dict[str, int], expected: int) -> int | None:
    """Check every drained message left its row; None when the system writes none."""
    url = case.ctx["database_url"]
    if case.system == "bare_noop":
        return None
    if case.system == "bare_audit":
        count = _bare_audit_rows(url)
    else:
        after = world.outcome_counts(url)
        others = {k: v - before.get(k, 0) for k, v in after.items() if k != "succeeded"}
        if any(others.values()):
            raise RuntimeError(f"capgate: unexpected outcomes {others}")
        count = after.get("succeeded", 0) - before.get("succeeded", 0)
    if count != expected:
        raise RuntimeError(f"{case.system}: {count} rows for {expected} messages")
    return count


def _truncate(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as connection:
        connection.execute("TRUNCATE bench_audit")


def build_context(args: argparse.Namespace, database_url: str, folder: Path) -> dict[str, Any]:
    """Clients, credentials and worker environments shared by the cases."""
    base = args.redis.rstrip("/")
    broker_url, side_url = f"{base}/9", f"{base}/10"
    credentials = world.prepare(database_url, TABLE)
    client = PluginClient(credentials, broker_url=broker_url, result_backend=side_url)
    bare_app = Celery("bench-client", broker=broker_url, set_as_current=False)
    bare_app.conf.update(task_serializer="json", accept_content=["json"])
    return {
        "loglevel": args.loglevel,
        "concurrency": getattr(args, "concurrency", 2),
        "database_url": database_url,
        "broker": redis.Redis.from_url(broker_url),
        "marks": redis.Redis.from_url(side_url),
        "client": client,
        "bare_app": bare_app,
        "blob": "x" * args.payload_bytes,
        "padding": world.padding_for(client, args.payload_bytes),
        "capgate_env": {
            "CAPGATE_DATABASE_URL": database_url,
            "CAPGATE_BROKER_URL": broker_url,
            "CAPGATE_RESULT_BACKEND": side_url,
            "CAPGATE_RATE_LIMIT_URL": side_url,
            "CAPGATE_SECRET": world.SECRET,
            "CAPGATE_EML_FOLDER": str(folder / "outbox"),
            "CAPGATE_STORAGE_ROOT": str(folder / "storage"),
        },
        "bare_env": {
            "BENCH_BROKER_URL": broker_url,
            "BENCH_MARKS_URL": side_url,
            "BENCH_DATABASE_URL": database_url,
        },
    }


METRICS = (
    ("single_publish_per_s", "publish, one at a time (msg/s)"),
    ("presigned_publish_per_s", "publish, pre-signed envelopes (msg/s)"),
    ("batch_publish_per_s", "publish, batch of 100 via LPUSH (msg/s)"),
    ("drain_per_s", "drain rate (msg/s)"),
    ("cpu_ms_per_message", "worker CPU per message (ms)"),
    ("server_cpu_ms_per_message", "PostgreSQL + Redis CPU per message (ms)"),
    ("peak_rss_mb", "worker peak RSS, all processes (MB)"),
    ("latency_p50_ms", "latency p50 (ms)"),
    ("latency_p95_ms", "latency p95 (ms)"),
    ("latency_p99_ms", "latency p99 (ms)"),
    ("latency_max_ms", "latency max (ms)"),
)


def summarise(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Median of every figure over the runs, per system, plus the ratios and targets."""
    table: dict[str, dict[str, float]] = {}
    for system in runs[0]:
        keys = {k for run in runs for k, v in run[system].items() if isinstance(v, float)}
        table[system] = {key: median([run[system][key] for run in runs]) for key in keys}
    bare = table.get("bare_noop")
    if not bare:
        return table
    send = bare["single_publish_per_s"]
    for system, figures in table.items():
        if system != "bare_noop":
            figures["drain_vs_bare_noop"] = figures["drain_per_s"] / bare["drain_per_s"]
        for key in ("single", "presigned", "batch"):
            if system.startswith("capgate") and f"{key}_publish_per_s" in figures:
                figures[f"{key}_publish_vs_send_task"] = figures[f"{key}_publish_per_s"] / send
    return table


CHECKS = (
    ("drain >= 0.8 x bare no-op", "drain_vs_bare_noop", 0.8, True),
    ("single publish >= send_task", "single_publish_vs_send_task", 1.0, True),
    ("batch publish >= 2.5 x send_task", "batch_publish_vs_send_task", 2.5, True),
    ("p99 < 10 ms at the offered rate", "latency_p99_ms", 10.0, False),
)


def targets(table: dict[str, dict[str, float]]) -> list[tuple[str, str, float, bool]]:
    """The issue's targets per capgate system: (system, what, measured, met)."""
    found = []
    for system in (s for s in SYSTEMS if s.startswith("capgate") and s in table):
        figures = table[system]
        for what, key, bound, at_least in CHECKS:
            if key in figures:
                value = figures[key]
                found.append((system, what, value, value >= bound if at_least else value < bound))
    return found


def print_table(table: dict[str, dict[str, float]], runs: int) -> None:
    """The medians as a Markdown table, then the ratios and targets."""
    systems = [s for s in SYSTEMS if s in table]
    print(f"\nmedians of {runs} run(s)\n")
    print("| figure | " + " | ".join(systems) + " |")
    print("| --- |" + " ---: |" * len(systems))
    for key, label in METRICS:
        cells = [_cell(table[s].get(key)) for s in systems]
        if any(cell != "-" for cell in cells):
            print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    for system in systems:
        ratios = {k: v for k, v in sorted(table[system].items()) if "_vs_" in k}
        if ratios:
            print(f"ratios {system}: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    for system, what, value, met in targets(table):
        print(f"target {system} {what}: {value:.2f} -> {'met' if met else 'NOT met'}")


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per drain")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--rate", type=float, default=200.0, help="offered rate for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    parser.add_argument("--loglevel", default="WARNING", help="worker log level (all systems)")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="worker processes (the same for all systems)"
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="uses DBs 9 and 10")
    parser.add_argument("--logs", type=Path, default=None, help="keep worker logs here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every case ``--runs`` times; print the table; write the JSON."""
    args = parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown systems: {sorted(unknown)}")
    runs: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="capgate-bench-") as tmp:
        folder = Path(tmp)
        logs = args.logs or folder
        logs.mkdir(parents=True, exist_ok=True)
        with world.scratch_database(args.admin_url) as database_url:
            ctx = build_context(args, database_url, folder)
            try:
                for run in range(args.runs):
                    figures = {}
                    for system in systems:
                        print(f"run {run + 1}/{args.runs}: {system} ...", flush=True)
                        figures[system] = run_case(Case(system, ctx), args, logs, run)
                    runs.append(figures)
            finally:
                for client in (ctx["broker"], ctx["marks"]):
                    client.flushdb()
                    client.close()
    table = summarise(runs)
    print_table(table, len(runs))
    if args.json:
        document = {
            "settings": {k: str(v) for k, v in vars(args).items()},
            "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
            "runs": runs,
            "medians": table,
            "targets": [
                {"system": s, "what": w, "value": v, "met": m} for s, w, v, m in targets(table)
            ],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
