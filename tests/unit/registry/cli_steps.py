"""Drive ``capgate plugins`` through its command line and read back what it did.

Shared by the SQLite unit tests and the PostgreSQL integration tests.
"""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from capgate.audit.schema import AuditEventRow
from capgate.cli.main import cli

SERVER_SECRET = "server-secret-for-registry-cli-tests-0123456789"


def run(url: str, *args: str, ok: bool = True) -> Result:
    """Run ``capgate plugins ARGS`` against the database at ``url``."""
    env = {"CAPGATE_DATABASE_URL": url, "CAPGATE_SECRET": SERVER_SECRET}
    result = CliRunner().invoke(cli, ["plugins", *args], env=env)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result


def add(url: str, name: str) -> dict[str, Any]:
    """Register ``name``; the printed key as a dict."""
    printed: dict[str, Any] = json.loads(run(url, "add", name, "--json").stdout)
    return printed


def grant(
    url: str, name: str, capability: str, scope: str, *options: str, ok: bool = True
) -> Result:
    """``capgate plugins grant NAME --capability C --scope S [OPTIONS]``."""
    return run(url, "grant", name, "--capability", capability, "--scope", scope, *options, ok=ok)


def url_of(engine: Engine) -> str:
    """The URL of ``engine``, password included, for the CLI's environment."""
    return engine.url.render_as_string(hide_password=False)


def audit_rows(engine: Engine) -> list[AuditEventRow]:
    """Every audit row, oldest first."""
    with Session(engine) as session:
        return list(session.scalars(select(AuditEventRow).order_by(AuditEventRow.id)))
