"""Benchmark: audit rows per second on PostgreSQL, with and without the hash chain.

Not a test (pytest collects only ``tests/``). It creates a scratch database,
migrates it, runs each case for a few seconds and prints a table:

    .venv/bin/python benchmarks/audit_write.py [--url postgresql://postgres@127.0.0.1/postgres]
        [--seconds 3] [--writers 4]

Cases: one writer committing every row (the worker's shape: one attempt, one
transaction), one writer committing batches of 100, and N writer processes
committing every row, on 64 chains and on a single chain (the design the
partitions avoid). "unchained" is a bare INSERT of the same redacted row,
the floor the chain is measured against.
"""

from __future__ import annotations

import argparse
import multiprocessing
import secrets
import time
import uuid
from typing import Any

from sqlalchemy import Connection, create_engine, func, insert, text
from sqlalchemy.engine import make_url

from capgate.audit.events import AuditEvent, Outcome
from capgate.audit.recorder import AuditRecorder
from capgate.audit.rows import event_values
from capgate.audit.schema import EVENTS
from capgate.database import make_engine
from capgate.migrate import upgrade

SECRET = "benchmark-secret-0123456789abcdefghijklmnop"
_UNCHAINED = insert(EVENTS).values(recorded_at=func.clock_timestamp())


def _event(command_id: str) -> AuditEvent:
    return AuditEvent(
        outcome=Outcome.SUCCEEDED,
        command_id=command_id,
        plugin_name="digest",
        plugin_id="plg-1",
        capability_id="cap-1",
        capability_key="weekly",
        execution_kind="action",
        correlation_id="corr-1",
        operation="email.send",
        service_key="email_providers",
        requested_scopes=("email:send",),
        granted_scopes=("email:send",),
        request_summary={"to_count": 2, "recipient_domains": ["example.com"], "text_length": 812},
        response_summary={"message_id": "m-1"},
        worker_host="bench",
        task_id="t-1",
        duration_ms=7,
    )


def _write_unchained(connection: Connection, event: AuditEvent, lane: int, seq: int) -> None:
    values = event_values(event)
    values.update(
        event_id=str(uuid.uuid4()),
        chain_partition=lane,
        chain_seq=seq,
        prev_hash="0" * 64,
        row_hash="0" * 64,
    )
    connection.execute(_UNCHAINED, values)


def _run(url: str, seconds: float, batch: int, chained: bool, one_chain: str, index: int) -> int:
    engine = make_engine(url, pool_size=1)
    recorder = AuditRecorder(SECRET)
    lane = 1000 + secrets.randbelow(2**30)  # an unchained lane of its own per run
    written = 0
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            with engine.begin() as connection:
                for _ in range(batch):
                    # One command id for every row puts every row on the same chain.
                    command_id = one_chain or uuid.uuid4().hex
                    event = _event(command_id)
                    if chained:
                        attempt = written + 1 + index * 10_000_000
                        recorder.record(connection, event.model_copy(update={"attempt": attempt}))
                    else:
                        _write_unchained(connection, event, lane, written + 1)
                    written += 1
    finally:
        engine.dispose()
    return written


def _case(url: str, seconds: float, writers: int, **kwargs: Any) -> float:
    one_chain = f"one-chain-{uuid.uuid4().hex}" if kwargs["one_chain"] else ""
    args = [(url, seconds, kwargs["batch"], kwargs["chained"], one_chain, index)
            for index in range(writers)]  # fmt: skip
    started = time.perf_counter()
    if writers == 1:
        total = _run(*args[0])
    else:
        with multiprocessing.get_context("fork").Pool(writers) as pool:
            total = sum(pool.starmap(_run, args))
    return total / (time.perf_counter() - started)


def main() -> None:
    """Run every case and print rows per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--writers", type=int, default=4)
    options = parser.parse_args()
    admin = create_engine(
        make_url(make_engine(options.url).url), isolation_level="AUTOCOMMIT"
    )  # a scratch database, dropped at the end
    name = f"capgate_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_engine(options.url).url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(make_engine(url))
        cases = [
            ("1 writer, commit per row", 1, 1),
            ("1 writer, batches of 100", 1, 100),
            (f"{options.writers} writers, commit per row", options.writers, 1),
        ]
        print(f"{'case':<34} {'unchained':>10} {'chained':>10} {'1 chain':>10}  rows/s")
        for label, writers, batch in cases:
            figures = [
                _case(url, options.seconds, writers, batch=batch, chained=c, one_chain=o)
                for c, o in ((False, False), (True, False), (True, True))
            ]
            print(f"{label:<34} " + " ".join(f"{f:>10.0f}" for f in figures))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
