"""``capgate plugins``: register plugins, grant scopes, manage signing keys.

Every change runs in one transaction with its audit row (execution kind
``lifecycle``, actor from ``--actor`` or the login name). Key secrets are
printed once, by ``add`` and ``rotate-key``, and never again.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from capgate.cli.errors import settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from capgate.registry.admin import IssuedKey, RegistryAdmin

__all__ = ["plugins"]

T = TypeVar("T")

_SCOPE_HELP = "A scope such as email:send or users:write (see docs/plugins.md)."
_actor_option = click.option(
    "--actor", default=None, help="Who makes the change, for the audit row [default: login name]."
)
_reason_option = click.option("--reason", default=None, help="Why, for the audit row.")


@click.group()
def plugins() -> None:
    """Register plugins, grant scopes to their capabilities and manage signing keys."""


def _fail(exc: Exception) -> click.ClickException:
    from sqlalchemy.exc import IntegrityError

    from capgate.audit.recorder import AuditWriteError
    from capgate.contracts.errors import PluginServiceError

    if isinstance(exc, PluginServiceError):
        return click.ClickException(f"{exc.code}: {exc.message}")
    if isinstance(exc, AuditWriteError):
        return click.ClickException(f"nothing was changed: {exc}")
    if isinstance(exc, IntegrityError):
        # Two operators changing the same plugin at once: the loser's
        # transaction is rolled back whole, so running it again is safe.
        return click.ClickException("nothing was changed: a concurrent change won; run it again")
    from capgate.cli.failures import database_failure

    # The real cause (server down, database missing, not migrated), not a guess.
    return database_failure(exc)


@contextmanager
def _session() -> Iterator[tuple[Session, Any]]:
    """A committed-on-success transaction, and the settings; errors become clean exits."""
    from sqlalchemy.exc import SQLAlchemyError

    from capgate.audit.recorder import AuditWriteError
    from capgate.bootstrap import bootstrap
    from capgate.contracts.errors import PluginServiceError
    from capgate.database import unit_of_work

    runtime = bootstrap(settings_or_exit())
    try:
        with unit_of_work(runtime.sessions) as session:
            yield session, runtime.settings
    except (PluginServiceError, SQLAlchemyError, AuditWriteError) as exc:
        raise _fail(exc) from exc
    finally:
        runtime.close()


def _change(actor: str | None, reason: str | None, change: Callable[[RegistryAdmin], T]) -> T:
    """Run ``change`` with an audited admin inside one transaction."""
    from capgate.audit.recorder import AuditRecorder
    from capgate.registry.admin import RegistryAdmin
    from capgate.registry.sealing import KeySealer

    with _session() as (session, settings):
        admin = RegistryAdmin(
            session,
            sealer=KeySealer(settings.secret),
            audit=AuditRecorder(settings.secret.get_secret_value()).record,
            actor=actor or getpass.getuser(),
            reason=reason,
        )
        return change(admin)


def _print_key(issued: IssuedKey, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "plugin_id": issued.plugin_id,
                    "plugin_name": issued.plugin_name,
                    "key_id": issued.key_id,
                    "key_secret": issued.secret,
                }
            )
        )
        return
    click.echo(f"plugin:     {issued.plugin_name}")
    click.echo(f"plugin id:  {issued.plugin_id}")
    click.echo(f"key id:     {issued.key_id}")
    click.echo(f"key secret: {issued.secret}")
    click.echo("Store the key secret now: it is shown only this once.", err=True)


_json_option = click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")


@plugins.command("add")
@click.argument("name")
@_actor_option
@_reason_option
@_json_option
def add_command(name: str, actor: str | None, reason: str | None, as_json: bool) -> None:
    """Register plugin NAME and print its id and first signing key (shown once)."""
    _print_key(_change(actor, reason, lambda admin: admin.add_plugin(name)), as_json)


@plugins.command("grant")
@click.argument("name")
@click.option("--capability", "capability_key", required=True, help="Capability key.")
@click.option("--scope", required=True, help=_SCOPE_HELP)
@click.option("--rate", default=None, help="Rate limit for this scope: N/second|minute|hour.")
@click.option(
    "--kind",
    type=click.Choice(["action", "trigger", "register", "lifecycle"]),
    default=None,
    help="Execution kind of a new capability [default: action].",
)
@_actor_option
@_reason_option
def grant_command(
    name: str,
    capability_key: str,
    scope: str,
    rate: str | None,
    kind: str | None,
    actor: str | None,
    reason: str | None,
) -> None:
    """Grant SCOPE to capability KEY of plugin NAME (creates the capability if needed)."""
    from capgate.contracts.context import ExecutionKind

    if rate is not None:
        _check_rate(rate)
    execution_kind = ExecutionKind(kind) if kind else None

    def change(admin: RegistryAdmin) -> str:
        capability = admin.grant(name, capability_key, scope, rate=rate, kind=execution_kind)
        return capability.id

    capability_id = _change(actor, reason, change)
    limit = f" at {rate}" if rate else ""
    click.echo(f"granted {scope}{limit} to {name}/{capability_key} (capability {capability_id})")


def _check_rate(rate: str) -> None:
    from capgate.registry.rates import parse_rate

    try:
        parse_rate(rate)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from exc


@plugins.command("revoke")
@click.argument("name")
@click.option("--capability", "capability_key", required=True, help="Capability key.")
@click.option("--scope", required=True, help=_SCOPE_HELP)
@_actor_option
@_reason_option
def revoke_command(
    name: str, capability_key: str, scope: str, actor: str | None, reason: str | None
) -> None:
    """Withdraw SCOPE from capability KEY of plugin NAME (queued commands are denied)."""
    _change(actor, reason, lambda admin: admin.revoke(name, capability_key, scope))
    click.echo(f"revoked {scope} from {name}/{capability_key}")


@plugins.command("rotate-key")
@click.argument("name")
@click.option(
    "--revoke-old-after",
    type=click.IntRange(min=0),
    default=None,
    metavar="MINUTES",
    help="Revoke the old key(s) this many minutes from now.",
)
@click.option("--revoke-old", is_flag=True, help="Revoke the old key(s) at once.")
@_actor_option
@_reason_option
@_json_option
def rotate_key_command(
    name: str,
    revoke_old_after: int | None,
    revoke_old: bool,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Issue a new signing key for NAME (shown once); old keys stay valid until revoked."""
    if revoke_old and revoke_old_after is not None:
        raise click.UsageError("use either --revoke-old or --revoke-old-after, not both")
    grace = timedelta(0) if revoke_old else None
    if revoke_old_after is not None:
        grace = timedelta(minutes=revoke_old_after)
    issued = _change(actor, reason, lambda admin: admin.rotate_key(name, revoke_old_after=grace))
    _print_key(issued, as_json)


@plugins.command("revoke-key")
@click.argument("key_id")
@_actor_option
@_reason_option
def revoke_key_command(key_id: str, actor: str | None, reason: str | None) -> None:
    """Revoke signing key KEY_ID now: commands signed with it are refused."""
    _change(actor, reason, lambda admin: admin.revoke_key(key_id))
    click.echo(f"revoked key {key_id}")


@plugins.command("disable")
@click.argument("name")
@_actor_option
@_reason_option
def disable_command(name: str, actor: str | None, reason: str | None) -> None:
    """Refuse every command of plugin NAME until it is enabled again."""
    from capgate.registry.tables import PluginStatus

    _change(actor, reason, lambda admin: admin.set_status(name, PluginStatus.DISABLED))
    click.echo(f"disabled {name}")


@plugins.command("enable")
@click.argument("name")
@_actor_option
@_reason_option
def enable_command(name: str, actor: str | None, reason: str | None) -> None:
    """Accept commands of plugin NAME again."""
    from capgate.registry.tables import PluginStatus

    _change(actor, reason, lambda admin: admin.set_status(name, PluginStatus.ACTIVE))
    click.echo(f"enabled {name}")


@plugins.command("list")
def list_command() -> None:
    """List every plugin with its status and counts of capabilities and usable keys."""
    from capgate.database import utcnow
    from capgate.registry.report import plugin_table
    from capgate.registry.views import list_plugins

    with _session() as (session, _settings):
        rows = list_plugins(session, utcnow())
    for line in plugin_table(rows):
        click.echo(line)


@plugins.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Show plugin NAME: capabilities, granted scopes, rate limits and keys (no secrets)."""
    from capgate.database import utcnow
    from capgate.registry.report import plugin_details
    from capgate.registry.views import show_plugin

    with _session() as (session, _settings):
        view = show_plugin(session, name)
    for line in plugin_details(view, utcnow()):
        click.echo(line)
