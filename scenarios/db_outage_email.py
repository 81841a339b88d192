"""Scenario 2, email variant: the worker's database connections die while SMTP is answering.

N ``email.send`` commands go through the SMTP provider to a local sink; the
worker reaches PostgreSQL through a :class:`CuttableProxy`. Twice, right
after the sink accepts a message and before it answers 250, the proxy
closes every worker connection (what ``pg_terminate_backend`` or a failover
does to them) and refuses new ones for half a second; then, halfway through,
a full outage of ``--outage`` seconds. Counted afterwards: sink deliveries
against distinct Message-IDs and against audited sends (``succeeded`` and
``resent`` rows). Run: ``python -m scenarios.db_outage --email``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from scenarios.proxy import CuttableProxy
from scenarios.stack import running_stack, terminal_summary
from tests.support.services import POSTGRES_ADMIN_URL, free_port
from tests.support.smtp_server import SmtpTestServer

__all__ = ["run_email"]

_BLINK_SECONDS = 0.5


def run_email(
    commands: int = 300, outage: float = 5.0, blinks: int = 2, folder: Path | None = None
) -> dict[str, Any]:
    """Run the email variant and return its figures."""
    admin = make_url(POSTGRES_ADMIN_URL)
    proxy = CuttableProxy(admin.host or "127.0.0.1", admin.port or 5432).start()
    sink = SmtpTestServer(free_port()).start()
    try:
        with running_stack(folder=folder) as stack:
            direct = make_url(stack.settings["CAPGATE_DATABASE_URL"])
            via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
            stack.settings["CAPGATE_DATABASE_URL"] = via_proxy.render_as_string(hide_password=False)
            stack.start_worker()
            plugin, client = stack.mailer(sink.port)
            at = {commands * (i + 1) // (blinks + 2) for i in range(blinks)}
            blinked: list[int] = []

            def blink() -> None:
                if len(sink.received) in at:
                    blinked.append(len(sink.received))
                    proxy.cut()
                    threading.Timer(_BLINK_SECONDS, proxy.restore).start()

            sink.behaviour.after_accept = blink
            started = time.monotonic()
            payload = {"to": ["bob@example.com"], "subject": "s", "text": "x"}
            ids = [client.send("email.send", payload).command_id for _ in range(commands)]
            plugin_id = plugin.key.plugin_id
            stack.wait_terminal_count(plugin_id, commands * 3 // 4, 600)
            proxy.cut()
            time.sleep(outage)
            proxy.restore()
            stack.wait_all_terminal(plugin_id, set(ids), 900)
            rows = stack.audit(plugin_id)
            figures = terminal_summary(ids, rows)
            mine = set(ids)
            outcomes = Counter(r.outcome for r in rows if r.command_id in mine)
            delivered = [str(m["Message-ID"]) for m in sink.received]
            figures.update(
                {
                    "terminations_after_acceptance": len(blinked),
                    "outage_seconds": outage,
                    "sink_deliveries": len(delivered),
                    "distinct_message_ids": len(set(delivered)),
                    "extra_copies": len(delivered) - len(set(delivered)),
                    "audited_succeeded": outcomes.get("succeeded", 0),
                    "audited_resent": outcomes.get("resent", 0),
                    "unaudited_copies": len(delivered)
                    - outcomes.get("succeeded", 0)
                    - outcomes.get("resent", 0),
                    "seconds_total": round(time.monotonic() - started, 1),
                }
            )
            return figures
    finally:
        sink.stop()
        proxy.stop()
