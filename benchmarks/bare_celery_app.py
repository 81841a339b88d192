"""The two bare Celery tasks capgate is measured against (benchmarks/pipeline_vs_celery.py).

Started by the benchmark as ``celery -A benchmarks.bare_celery_app worker``
with the same worker settings as ``capgate worker``: prefork, concurrency 2,
prefetch multiplier 1, late acknowledgement, JSON only. Configured from the
environment: ``BENCH_BROKER_URL`` (Redis), ``BENCH_MARKS_URL`` (Redis where
latency marks go) and ``BENCH_DATABASE_URL`` (PostgreSQL, for ``audit_row``).

- ``bench.noop``: does nothing (with ``sent_at``, it pushes its completion
  time to the marks list, so latency can be measured);
- ``bench.audit_row``: inserts one audit-like row into ``bench_audit`` and
  commits, one transaction per task, before the late acknowledgement
  (``recorded_at`` is the database clock at insert).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from celery import Celery

QUEUE = "bench.bare"
MARKS = "bench:marks"

app = Celery("bench", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

_state: dict[str, Any] = {}

TABLE = """
CREATE TABLE IF NOT EXISTS bench_audit (
    id bigserial PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    command_id varchar(64) NOT NULL,
    operation varchar(64) NOT NULL,
    outcome varchar(32) NOT NULL,
    plugin_id varchar(64) NOT NULL,
    request_summary jsonb NOT NULL,
    sent_at double precision,
    row_hash char(64) NOT NULL,
    UNIQUE (command_id, outcome)
)
"""
INSERT = (
    "INSERT INTO bench_audit (command_id, operation, outcome, plugin_id, request_summary,"
    " sent_at, row_hash) VALUES (%s, 'bench.audit_row', 'succeeded', 'plg-bench', %s, %s,"
    " repeat('0', 64))"
)


def _marks() -> Any:
    client = _state.get("marks")
    if client is None:
        import redis

        client = redis.Redis.from_url(os.environ["BENCH_MARKS_URL"])
        _state["marks"] = client
    return client


def _connection() -> Any:
    # One connection per worker process, opened after the fork.
    connection = _state.get("db")
    if connection is None:
        import psycopg

        connection = psycopg.connect(os.environ["BENCH_DATABASE_URL"])
        _state["db"] = connection
    return connection


@app.task(name="bench.noop", bind=True)
def noop(self: Any, payload: str, sent_at: float | None = None) -> None:
    """Nothing; with ``sent_at`` (latency runs) push ``task_id sent_at done_at``."""
    if sent_at is not None:
        _marks().rpush(MARKS, f"{self.request.id} {sent_at} {time.time()}")


@app.task(name="bench.audit_row", bind=True)
def audit_row(self: Any, payload: str, sent_at: float | None = None) -> None:
    """Insert one audit-like row and commit it (the acknowledgement comes after)."""
    connection = _connection()
    summary = json.dumps({"payload_bytes": len(payload)})
    connection.execute(INSERT, (self.request.id, summary, sent_at))
    connection.commit()
