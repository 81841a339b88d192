"""Profile: capgate's pipeline in one process, without Celery, on real PostgreSQL and Redis.

Not a test. It builds the production pipeline (the one ``capgate worker``
runs, with the Redis rate limiter on DB 10), feeds it N signed
``bundles.enable``/``disable`` deliveries one after another and prints the
wall time per command, the SQL statements and round trips per command (by
kind) and, with ``--pyinstrument``, the call tree:

    .venv/bin/python benchmarks/profile_pipeline.py --commands 2000 [--pyinstrument]

The scratch database is created and dropped like the main benchmark's
(benchmarks/pipeline_vs_celery.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bench_world as world  # noqa: E402
from benchmarks.bare_celery_app import TABLE  # noqa: E402
from capgate.contracts.client import PluginClient  # noqa: E402
from capgate.settings import Settings  # noqa: E402
from capgate.workers.wiring import production_pipeline  # noqa: E402
from capgate.workers.work import Delivery, VerdictKind  # noqa: E402


def _count_statements(engine: Any, counts: Counter[str]) -> None:
    """Count every statement the engine sends, by its first words, plus commits."""

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        kind = " ".join(words[:2]) if words else "?"
        if kind.startswith(("SELECT", "UPDATE", "INSERT")):
            table = next(
                (
                    w
                    for w in words
                    if w.startswith(("audit", "bundles", "commands", "idempotency", "change"))
                ),
                "",
            )
            kind = f"{words[0]} {table}".strip()
        counts[kind] += 1

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        counts["COMMIT"] += 1

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        counts["ROLLBACK"] += 1

    @event.listens_for(engine, "engine_connect")
    def _checkout(conn: Any) -> None:
        counts["(pool checkout)"] += 1


def main(argv: list[str] | None = None) -> int:
    """Run the commands; print the figures (and the profile)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--pyinstrument", action="store_true", help="print the call tree")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    args = parser.parse_args(argv)
    side = f"{args.redis.rstrip('/')}/10"
    with tempfile.TemporaryDirectory() as tmp, world.scratch_database(args.admin_url) as url:
        credentials = world.prepare(url, TABLE)
        settings = Settings(
            database_url=url,
            secret=world.SECRET,
            rate_limit_url=side,
            eml_folder=Path(tmp) / "outbox",
            storage_root=Path(tmp) / "storage",
        )
        pipeline = production_pipeline(settings)
        client = PluginClient(credentials, app=object())  # signs only; never publishes
        padding = world.padding_for(client, 1024)
        bodies = []
        for index in range(args.commands + 50):
            operation, payload = world.toggle(index, padding)
            bodies.append((operation, client.envelope(operation, payload)))

        def run(batch: list[tuple[str, str]]) -> None:
            for operation, body in batch:
                delivery = Delivery(body, f"capgate.{operation}", str(uuid.uuid4()))
                verdict = pipeline.run(delivery)
                assert verdict.kind is VerdictKind.SUCCEEDED, verdict

        run(bodies[:50])  # warm the caches and the connection pool
        counts: Counter[str] = Counter()
        _count_statements(pipeline.deps.sessions.kw["bind"], counts)
        profiler = None
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        start, cpu = time.perf_counter(), time.process_time()
        run(bodies[50:])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if profiler is not None:
            profiler.stop()
        n = args.commands
        print(f"{n} commands in {elapsed:.2f}s: {elapsed * 1000 / n:.2f} ms each, one process")
        print(f"this process's CPU: {cpu * 1000 / n:.2f} ms per command")
        print("database round trips per command:")
        for kind, count in counts.most_common():
            print(f"  {count / n:5.2f}  {kind}")
        print(f"  {sum(counts.values()) / n:5.2f}  in all (checkouts included)")
        if profiler is not None:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
