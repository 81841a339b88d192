"""``capgate health``: is every part capgate needs reachable and ready? (for probes)."""

from __future__ import annotations

import json

import click

from capgate.cli.errors import settings_or_exit

__all__ = ["health"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 60),
    default=3.0,
    show_default=True,
    help="Seconds each check may take.",
)
def health(as_json: bool, timeout: float) -> None:
    """Check the broker, database, migrations, result backend and rate-limit store.

    Prints one line per check ('ok broker redis://...', or 'FAIL ...: why'),
    passwords masked. Exits 0 when every check passed, 1 otherwise, so a
    container health check or a readiness probe can run it as is.
    """
    from capgate.health import run_checks

    results = run_checks(settings_or_exit(), timeout=timeout)
    healthy = all(result.ok for result in results)
    if as_json:
        body = {"ok": healthy, "checks": [result.as_dict() for result in results]}
        click.echo(json.dumps(body, indent=2))
    else:
        for result in results:
            click.echo(result.line())
    if not healthy:
        raise SystemExit(1)
