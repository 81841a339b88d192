"""Scenario 4: a flaky SMTP provider, one down for 30 s, and one that never comes back.

Three SMTP providers of one plugin, each sent its own batch of ``email.send``:

* ``flaky`` answers 451 to every other message;
* ``late`` is not listening for the first ``--down`` seconds (30);
* ``dead`` is not listening at all until its commands are dead-lettered;
  then it starts and each dead letter is replayed with
  ``capgate dead-letters replay ID --yes``.

Retry policy: 1 s doubling to a 16 s cap, 8 attempts (about 63 s in all),
so the late provider's commands are delivered within it. Figures: delivery
per provider, attempts used, the audited delays of each command (they must
not shrink), dead letters and replays. Run: ``python -m scenarios.flaky_provider``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from capgate.adapters.email.message import message_id_for
from capgate.audit.schema import AuditEventRow
from capgate.contracts.client import PluginClient
from capgate.workers.tables import DeadLetterRow
from scenarios.flaky_smtp import AlternatingSmtp
from scenarios.stack import Stack, print_figures, running_stack, terminal_summary
from tests.e2e.workers import CAPGATE, worker_env
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer

__all__ = ["POLICY", "run"]

POLICY = {
    "retry": True,
    "initial_ms": 1000,
    "cap_ms": 16000,
    "max_attempts": 8,
    "jitter": 0.1,
}


def run(commands: int = 20, down: float = 30.0, folder: Path | None = None) -> dict[str, Any]:
    """Run the scenario and return its figures."""
    ports = {name: free_port() for name in ("flaky", "late", "dead")}
    flaky = AlternatingSmtp(ports["flaky"]).start()
    late, dead = SmtpTestServer(ports["late"]), SmtpTestServer(ports["dead"])
    _STARTED.clear()
    policies = json.dumps({"default": {"retryable": POLICY}})
    try:
        with running_stack(folder=folder, CAPGATE_RETRY_POLICIES=policies) as stack:
            stack.start_worker()
            plugin = stack.plugin("mailer", "mailer", {"email:send": None})
            client = stack.client(plugin)
            for name, port in ports.items():
                _register(client, name, port)
            started = time.monotonic()
            sent = {name: _send(client, name, commands) for name in ports}
            time.sleep(down)
            _start(late)
            late_up = time.monotonic() - started
            plugin_id = plugin.key.plugin_id
            every = {cid for ids in sent.values() for cid in ids}
            stack.wait_all_terminal(plugin_id, every, 300)
            rows = stack.audit(plugin_id)
            figures: dict[str, Any] = {"late_provider_up_after_s": round(late_up, 1)}
            for name in ("flaky", "late"):
                figures[name] = _group(sent[name], rows)
            received = {
                "flaky": flaky.message_ids,
                "late": [str(m["Message-ID"]) for m in late.received],
            }
            for name, ids in received.items():
                figures[name]["sink"] = _sink(sent[name], ids)
            figures["flaky"]["answered_451"] = flaky.refused
            figures["dead"] = _dead(stack, dead, sent["dead"], rows)
            figures["seconds_total"] = round(time.monotonic() - started, 1)
            return figures
    finally:
        flaky.stop()
        for server in (late, dead):
            if server.port in _STARTED:
                server.stop()


_STARTED: set[int] = set()
"""Ports of the SmtpTestServers started (a server never started must not be stopped)."""


def _start(server: SmtpTestServer) -> None:
    server.start()
    _STARTED.add(server.port)


def _register(client: PluginClient, name: str, port: int) -> None:
    config = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@example.com"}
    payload = {"name": name, "kind": "smtp", "config": config}
    client.call("email.register_provider", payload, timeout=60)


def _send(client: PluginClient, provider: str, count: int) -> list[str]:
    ids = []
    for number in range(count):
        payload = {"to": ["bob@example.com"], "subject": f"{provider} {number}", "text": "x"}
        payload["provider"] = provider
        ids.append(client.send("email.send", payload).command_id)
    return ids


def _group(ids: list[str], rows: list[AuditEventRow]) -> dict[str, Any]:
    """Terminal figures, attempts used and the audited retry delays of ``ids``."""
    wanted = set(ids)
    delays: dict[str, list[int]] = defaultdict(list)
    attempts: dict[str, int] = {}
    for row in rows:
        if row.command_id not in wanted:
            continue
        attempts[row.command_id] = max(attempts.get(row.command_id, 0), row.attempt)
        if row.outcome == "retry_scheduled" and row.retry_delay_ms is not None:
            delays[row.command_id].append(row.retry_delay_ms)
    longest = max(delays.values(), key=len, default=[])
    return {
        **terminal_summary(ids, rows),
        "attempts_used": dict(sorted(Counter(attempts.values()).items())),
        # Jitter (10%) may make a capped delay a little shorter than the one before.
        "commands_whose_delays_shrank_beyond_jitter": sum(
            1 for seq in delays.values() if any(b < a * 0.8 for a, b in itertools.pairwise(seq))
        ),
        "example_delays_ms": longest,
    }


def _sink(ids: list[str], received: list[str]) -> dict[str, int]:
    expected = {message_id_for(cid, "capgate.invalid") for cid in ids}
    seen = Counter(received)
    return {
        "messages": sum(seen.values()),
        "distinct_expected": len(expected & set(seen)),
        "missing": len(expected - set(seen)),
        "duplicates": sum(n - 1 for m, n in seen.items() if m in expected),
    }


def _dead(
    stack: Stack, server: SmtpTestServer, ids: list[str], rows: list[AuditEventRow]
) -> dict[str, Any]:
    """Dead letters of the never-recovering provider, replayed once it is up."""
    figures = _group(ids, rows)
    with stack.world.runtime.sessions() as session:
        stmt = select(DeadLetterRow.id).where(DeadLetterRow.command_id.in_(ids))
        letters = list(session.scalars(stmt))
    figures["dead_letters"] = len(letters)
    _start(server)
    env = worker_env(stack.settings)
    failed_replays = 0
    for letter in letters:
        command = [CAPGATE, "dead-letters", "replay", str(letter), "--yes", "--actor", "ops"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        failed_replays += done.returncode != 0
    figures["replays_refused_by_cli"] = failed_replays
    deadline = time.monotonic() + 120
    succeeded: set[str] = set()
    while time.monotonic() < deadline and len(succeeded) < len(ids):
        succeeded = {
            str(r.command_id)
            for r in stack.audit(rows[0].plugin_id or "")
            if r.command_id in set(ids) and r.outcome == "succeeded"
        }
        time.sleep(1.0)
    figures["succeeded_after_replay"] = len(succeeded)
    figures["sink_after_replay"] = _sink(ids, [str(m["Message-ID"]) for m in server.received])
    return figures


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=20, help="commands per provider")
    parser.add_argument("--down", type=float, default=30.0, help="seconds 'late' is down")
    parser.add_argument("--folder", type=Path, help="keep worker and Redis logs here")
    args = parser.parse_args()
    print_figures("flaky_provider", run(args.commands, args.down, args.folder))


if __name__ == "__main__":
    main()
