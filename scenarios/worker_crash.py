"""Scenario 1: SIGKILL the worker twice while email commands are in flight.

Publishes N ``email.send`` commands to an SMTP sink, kills the worker (the
whole process group, as a crash would) at one third and two thirds of the
run, starts it again each time, and checks that every command ends with
exactly one terminal audit row and that each Message-ID reached the sink.
A message accepted by the SMTP server just before a kill, whose commit the
kill prevented, is sent again with the same Message-ID: counted as a
duplicate. Run: ``python -m scenarios.worker_crash --commands 5000``.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from capgate.adapters.email.message import message_id_for
from capgate.audit.schema import AuditEventRow
from scenarios.stack import (
    TERMINAL,
    Stack,
    print_figures,
    running_stack,
    stored_statuses,
    terminal_summary,
)
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer

__all__ = ["run"]


def run(
    commands: int = 5000, kills: int = 2, timeout: float = 1800.0, folder: Path | None = None
) -> dict[str, Any]:
    """Run the scenario and return its figures (logs kept in ``folder`` if given)."""
    port = free_port()
    server = SmtpTestServer(port).start()
    try:
        with running_stack(folder=folder) as stack:
            worker = stack.start_worker()
            plugin, client = stack.mailer(port)
            plugin_id = plugin.key.plugin_id
            before = stack.count_terminal(plugin_id)  # register_provider's row
            started = time.monotonic()
            ids = []
            for number in range(commands):
                payload = {"to": ["bob@example.com"], "subject": f"m{number}", "text": "x"}
                ids.append(client.send("email.send", payload).command_id)
            published_s = time.monotonic() - started
            recoveries = []
            for kill in range(1, kills + 1):
                threshold = before + commands * kill // (kills + 1)
                stack.wait_terminal_count(plugin_id, threshold, timeout)
                worker.kill()
                killed_at = time.monotonic()
                done_at_kill = stack.count_terminal(plugin_id)
                worker = stack.start_worker()
                stack.wait_terminal_count(plugin_id, done_at_kill + 1, timeout)
                recoveries.append(round(time.monotonic() - killed_at, 1))
            waited = stack.wait_all_terminal(plugin_id, set(ids), timeout)
            elapsed = time.monotonic() - started
            rows = stack.audit(plugin_id)
            figures = terminal_summary(ids, rows)
            figures["extra_terminal_rows"] = extra_terminal_rows(rows)
            figures["results_stored_as_failure"] = failed_results(stack, ids)
    finally:
        server.stop()
    domain = "capgate.invalid"
    expected = {message_id_for(cid, domain) for cid in ids}
    seen = Counter(str(message["Message-ID"]) for message in server.received)
    figures.update(
        {
            "kills": kills,
            "seconds_publishing": round(published_s, 1),
            "seconds_total": round(elapsed, 1),
            "seconds_waiting_after_last_kill": round(waited, 1),
            "seconds_from_kill_to_next_completion": recoveries,
            "sink_messages": sum(seen.values()),
            "sink_distinct_message_ids": len(set(seen) & expected),
            "sink_missing": len(expected - set(seen)),
            "sink_duplicates_same_message_id": sum(n - 1 for m, n in seen.items() if m in expected),
            "sink_unexpected": sum(n for m, n in seen.items() if m not in expected),
        }
    )
    return figures


def extra_terminal_rows(rows: list[AuditEventRow]) -> dict[str, int]:
    """Terminal rows after a command's first one, by outcome and code (a redelivery's)."""
    seen: set[str] = set()
    extra: Counter[str] = Counter()
    for row in rows:
        if row.command_id is None or row.outcome not in TERMINAL:
            continue
        if row.command_id in seen:
            extra[f"{row.outcome}:{row.error_code}"] += 1
        seen.add(row.command_id)
    return dict(extra)


def failed_results(stack: Stack, ids: list[str]) -> int:
    """How many commands the result backend reports as FAILURE (the plugin's view)."""
    return stored_statuses(stack, ids).count("FAILURE")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800.0, help="wait for stragglers (s)")
    parser.add_argument("--folder", type=Path, help="keep worker and Redis logs here")
    args = parser.parse_args()
    figures = run(args.commands, args.kills, timeout=args.timeout, folder=args.folder)
    print_figures("worker_crash", figures)


if __name__ == "__main__":
    main()
