"""Scenario 2: PostgreSQL unreachable for 10 seconds in the middle of a run.

The worker reaches PostgreSQL through a :class:`CuttableProxy`; after a
third of N ``bundles.enable`` commands (one bundle each) the proxy closes
every connection and refuses new ones for ``--outage`` seconds. Checked
afterwards: every command has exactly one terminal audit row, the result
the plugin sees matches it (nothing acknowledged without its audit row),
each command changed its bundle once (one change_log row per command) and
every bundle is enabled. Run: ``python -m scenarios.db_outage``; its email
variant (``--email``, :mod:`scenarios.db_outage_email`) counts deliveries.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from capgate.adapters.change_log import ChangeLogEntry
from capgate.adapters.resource_tables import Bundle
from scenarios.proxy import CuttableProxy
from scenarios.stack import Stack, print_figures, running_stack, stored_statuses, terminal_summary
from tests.support.services import POSTGRES_ADMIN_URL

__all__ = ["run"]


def run(commands: int = 2000, outage: float = 10.0, folder: Path | None = None) -> dict[str, Any]:
    """Run the scenario and return its figures."""
    admin = make_url(POSTGRES_ADMIN_URL)
    proxy = CuttableProxy(admin.host or "127.0.0.1", admin.port or 5432).start()
    try:
        with running_stack(folder=folder) as stack:
            return _scenario(stack, proxy, commands, outage)
    finally:
        proxy.stop()


def _scenario(stack: Stack, proxy: CuttableProxy, commands: int, outage: float) -> dict[str, Any]:
    # The scenario reads the database directly; the worker only through the proxy.
    direct = make_url(stack.settings["CAPGATE_DATABASE_URL"])
    via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    stack.settings["CAPGATE_DATABASE_URL"] = via_proxy.render_as_string(hide_password=False)
    bundle_ids = stack.bundles("b-outage", commands)
    plugin = stack.plugin("toggler", "toggler", {"bundles:write": None})
    client = stack.client(plugin)
    plugin_id = plugin.key.plugin_id
    stack.start_worker()
    started = time.monotonic()
    ids = [client.send("bundles.enable", {"resource_id": b}).command_id for b in bundle_ids]
    stack.wait_terminal_count(plugin_id, commands // 3, 600)
    proxy.cut()
    cut_at = time.monotonic()
    done_at_cut = stack.count_terminal(plugin_id)
    time.sleep(outage)
    done_at_restore = stack.count_terminal(plugin_id)
    proxy.restore()
    restored_at = time.monotonic()
    stack.wait_terminal_count(plugin_id, done_at_restore + 1, 600)
    recovered = time.monotonic() - restored_at
    stack.wait_all_terminal(plugin_id, set(ids), 900)
    figures = terminal_summary(ids, stack.audit(plugin_id))
    changes = _changes_per_command(stack, ids)
    figures.update(
        {
            "outage_seconds": round(restored_at - cut_at, 1),
            "connections_refused_during_outage": proxy.refused,
            "completed_during_outage": done_at_restore - done_at_cut,
            "seconds_from_restore_to_next_completion": round(recovered, 1),
            "seconds_total": round(time.monotonic() - started, 1),
            "change_log_rows_per_command": dict(sorted(Counter(changes).items())),
            "bundles_left_disabled": _disabled(stack, bundle_ids),
            "results_vs_audit_mismatches": _mismatches(stack, plugin_id, ids),
        }
    )
    return figures


def _changes_per_command(stack: Stack, ids: list[str]) -> list[int]:
    with stack.world.runtime.sessions() as session:
        rows = session.scalars(select(ChangeLogEntry.command_id))
        counts = Counter(rows)
    return [counts.get(cid, 0) for cid in ids]


def _disabled(stack: Stack, bundle_ids: list[str]) -> int:
    with stack.world.runtime.sessions() as session:
        stmt = select(Bundle.id).where(Bundle.id.in_(bundle_ids)).where(Bundle.enabled.is_(False))
        return len(list(session.scalars(stmt)))


def _mismatches(stack: Stack, plugin_id: str, ids: list[str]) -> dict[str, int]:
    """Commands whose stored result disagrees with their audit trail, by kind.

    ``stored_without_matching_audit``: a result stored (the message was
    acknowledged) that the audit trail does not back - no terminal row, or
    SUCCESS against a refusal, or FAILURE against ``succeeded``.
    ``audited_without_result``: a terminal audit row but no stored result, so a
    plugin waiting for it times out although the command ended.
    """
    outcome = {r.command_id: r.outcome for r in stack.audit(plugin_id)}
    kinds = {"stored_without_matching_audit": 0, "audited_without_result": 0}
    for cid, status in zip(ids, stored_statuses(stack, ids), strict=True):
        if status is None:  # no result: the plugin cannot see how the command ended
            kinds["audited_without_result"] += outcome.get(cid) is not None
            continue
        expected = "SUCCESS" if outcome.get(cid) == "succeeded" else "FAILURE"
        kinds["stored_without_matching_audit"] += status != expected
    return kinds


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--folder", type=Path, help="keep worker and Redis logs here")
    parser.add_argument("--email", action="store_true", help="email.send through SMTP instead")
    args = parser.parse_args()
    if args.email:
        from scenarios.db_outage_email import run_email

        figures = run_email(args.commands, args.outage, folder=args.folder)
        print_figures("db_outage_email", figures)
        return
    print_figures("db_outage", run(args.commands, args.outage, folder=args.folder))


if __name__ == "__main__":
    main()
