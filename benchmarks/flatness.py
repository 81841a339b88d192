"""Benchmark: does a command cost the same at the 100,000th as at the 10,000th?

Not a test. Run from the repository root:

    .venv/bin/python benchmarks/flatness.py [--commands 100000] [--prefill 1000000]
        [--window 10000] [--json flat.json]

In a scratch PostgreSQL database (set up and dropped like
benchmarks/pipeline_vs_celery.py's), it first fills the audit table with
``--prefill`` rows shaped like the benchmark's own (another plugin's, so
they are not counted), then queues ``--commands`` ``bundles`` toggles and
starts one ``capgate worker`` (prefork, 2 processes). While the worker
drains the queue it samples, every half second, how many commands are
acknowledged, the CPU time and the RSS of the worker's process tree. It
prints, for each window of ``--window`` commands, the drain rate, the CPU per
command and the RSS at the window's end, and compares the last window with
the second (the first holds the worker's warm-up). Every command must end
with exactly one ``succeeded`` audit row.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bench_world as world  # noqa: E402
from benchmarks.bench_support import outstanding, tree_usage  # noqa: E402
from benchmarks.pipeline_vs_celery import Case, build_context  # noqa: E402

# Rows shaped like the benchmark's own (a succeeded bundles toggle), under
# another plugin. chain_seq starts far above anything the run writes, so the
# live chains never collide with the filler.
PREFILL = """
INSERT INTO audit_events (
    event_id, recorded_at, command_id, attempt, idempotency_key, plugin_name, plugin_id,
    capability_id, capability_key, execution_kind, service_key, operation, resource_type,
    resource_id, requested_scopes, granted_scopes, denied_scopes, outcome, duration_ms,
    actor_id, reason, request_summary, response_summary, worker_host, task_id,
    chain_partition, chain_seq, prev_hash, row_hash)
SELECT md5('e' || g), now() - make_interval(secs => g), 'fill-' || g, 1, 'fill-' || g,
    'filler', 'plg-filler', 'cap-filler', 'toggler', 'action', 'bundles', 'bundles.disable',
    'bundle', 'b-fill-' || (g % 1000), '["bundles:write"]', '["bundles:write"]', '[]',
    'succeeded', 3, 'u-alice', 'prefill',
    '{"resource_id": "b-fill", "options": {"actor_id": "u-alice"}}', '{"changed": true}',
    'prefill', 'fill-' || g, g % 64, 1000000000 + g,
    md5('p' || g) || md5('q' || g), md5('r' || g) || md5('s' || g)
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g
"""


def prefill(url: str, rows: int, chunk: int = 100_000) -> float:
    """Insert ``rows`` filler audit rows; seconds taken."""
    engine = create_engine(url)
    start = time.perf_counter()
    try:
        for first in range(1, rows + 1, chunk):
            with engine.begin() as connection:
                last = min(rows, first + chunk - 1)
                connection.execute(text(PREFILL), {"first": first, "last": last})
        with engine.connect() as connection:
            connection.execute(text("ANALYZE audit_events"))
            connection.commit()
    finally:
        engine.dispose()
    return time.perf_counter() - start


def sample_drain(case: Case, total: int, pid: int, timeout: float) -> list[dict[str, float]]:
    """(seconds, acknowledged, cpu seconds, rss MB) every ~0.5 s until the queue is empty."""
    samples: list[dict[str, float]] = []
    begin = time.perf_counter()
    empty_once = False
    while True:
        left = outstanding(case.broker, case.queue)
        cpu, rss = tree_usage(pid)
        now = time.perf_counter() - begin
        samples.append({"t": now, "acked": total - left, "cpu": cpu, "rss_mb": rss / 2**20})
        if left == 0 and empty_once:
            return samples
        empty_once = left == 0
        if now > timeout:
            raise RuntimeError(f"{left} of {total} commands not acknowledged in {timeout}s")
        time.sleep(0.5)


def windows(samples: list[dict[str, float]], size: int, total: int) -> list[dict[str, float]]:
    """Per window of ``size`` acknowledged commands: rate, CPU per command, RSS at its end."""
    out = []
    for end_count in range(size, total + 1, size):
        start_count = end_count - size
        first = next(s for s in samples if s["acked"] >= start_count)
        last = next(s for s in samples if s["acked"] >= end_count)
        done = last["acked"] - first["acked"]
        seconds = last["t"] - first["t"]
        out.append(
            {
                "commands": end_count,
                "rate_per_s": done / seconds if seconds > 0 else 0.0,
                "cpu_ms_per_command": (last["cpu"] - first["cpu"]) * 1000 / max(1, done),
                "rss_mb": last["rss_mb"],
            }
        )
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--prefill", type=int, default=1_000_000, help="filler audit rows")
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--loglevel", default="WARNING")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="uses DBs 9 and 10")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Prefill, queue, drain, and print the per-window figures."""
    args = parse_args(argv)
    if args.commands < 2 * args.window:
        raise SystemExit("--commands must be at least two windows")
    with tempfile.TemporaryDirectory(prefix="capgate-flat-") as tmp:
        folder = Path(tmp)
        with world.scratch_database(args.admin_url) as database_url:
            ctx = build_context(args, database_url, folder)
            case = Case("capgate", ctx)
            try:
                for client in (ctx["broker"], ctx["marks"]):
                    client.flushdb()
                filled = prefill(database_url, args.prefill)
                print(f"prefilled {args.prefill:,} audit rows in {filled:.1f}s", flush=True)
                queue_rate = case.publish_batch(args.commands)
                print(f"queued {args.commands:,} commands at {queue_rate:,.0f}/s", flush=True)
                worker = case.start_worker(folder / "worker.log")
                try:
                    samples = sample_drain(case, args.commands, worker.pid, timeout=7200)
                finally:
                    worker.stop()
                counts = world.outcome_counts(database_url)
                if counts != {"succeeded": args.commands}:
                    raise RuntimeError(f"audit outcomes {counts}, expected all succeeded")
            finally:
                for client in (ctx["broker"], ctx["marks"]):
                    client.flushdb()
                    client.close()
    table = windows(samples, args.window, args.commands)
    _print(table, args)
    if args.json:
        document = {"settings": {k: str(v) for k, v in vars(args).items()}, "windows": table}
        document["samples"] = samples
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


def _print(table: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.commands:,} commands over {args.prefill:,} prefilled audit rows\n")
    print("| commands | drain (cmd/s) | CPU per command (ms) | worker RSS (MB) |")
    print("| ---: | ---: | ---: | ---: |")
    for row in table:
        print(
            f"| {row['commands']:,} | {row['rate_per_s']:,.0f} "
            f"| {row['cpu_ms_per_command']:.2f} | {row['rss_mb']:.0f} |"
        )
    second, last = table[1], table[-1]
    for key in ("rate_per_s", "cpu_ms_per_command", "rss_mb"):
        ratio = last[key] / second[key] if second[key] else float("nan")
        print(f"last window / second window, {key}: {ratio:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
