"""``capgate send``: sign and publish one command as a plugin, for operators and scripts.

The key file is what ``capgate plugins add NAME --json`` printed. The
capability id comes from the registry (by plugin name and capability key)
unless ``--capability-id`` is given, in which case no database is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from capgate.cli.errors import settings_or_exit

if TYPE_CHECKING:
    from capgate.contracts.client import PluginCredentials
    from capgate.settings import Settings

__all__ = ["send"]

_KEY_FIELDS = ("plugin_id", "plugin_name", "key_id", "key_secret")


def _read_json(text: str, what: str) -> dict[str, Any]:
    """``text`` as a JSON object, or ``@path`` read from a file."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot read {text[1:]}: {exc.strerror}") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return value


def _capability_id(settings: Settings, plugin: str, capability: str) -> str:
    from sqlalchemy.exc import SQLAlchemyError

    from capgate.bootstrap import bootstrap
    from capgate.contracts.errors import PluginServiceError
    from capgate.registry.finders import get_capability, get_plugin

    runtime = bootstrap(settings)
    try:
        with runtime.sessions() as session:
            return get_capability(session, get_plugin(session, plugin), capability).id
    except PluginServiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot look up the capability ({type(exc).__name__}); "
            "pass --capability-id to skip the database"
        ) from exc
    finally:
        runtime.close()


def _credentials(key_file: Path, plugin: str, capability: str, cap_id: str) -> PluginCredentials:
    from capgate.contracts.client import PluginCredentials

    key = _read_json(f"@{key_file}", "the key file")
    missing = [name for name in _KEY_FIELDS if not isinstance(key.get(name), str)]
    if missing:
        raise click.BadParameter(
            f"the key file lacks {', '.join(missing)}", param_hint="--key-file"
        )
    if key["plugin_name"] != plugin:
        raise click.BadParameter(
            f"the key belongs to plugin {key['plugin_name']!r}, not {plugin!r}",
            param_hint="--key-file",
        )
    return PluginCredentials(
        plugin, key["plugin_id"], cap_id, capability, key["key_id"], key["key_secret"]
    )


@click.command()
@click.argument("operation")
@click.option("--plugin", "plugin", required=True, help="The plugin that sends the command.")
@click.option("--capability", required=True, help="Capability key, e.g. admin or mailer.")
@click.option(
    "--key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON printed by 'capgate plugins add NAME --json' (holds the key secret).",
)
@click.option("--payload", required=True, help="The payload as JSON, or @FILE to read it.")
@click.option("--capability-id", default=None, help="Skip the database look-up of the id.")
@click.option("--idempotency-key", default=None, help="Default: the command id.")
@click.option("--wait", is_flag=True, help="Wait for the outcome and print it.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait.")
def send(
    operation: str,
    plugin: str,
    capability: str,
    key_file: Path,
    payload: str,
    capability_id: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Sign OPERATION (e.g. users.deactivate) with a plugin's key and publish it.

    Prints the command id. With --wait, prints the response as JSON, or the
    error (kind, code, message) and exits with status 1.
    """
    from capgate.contracts.client import PluginClient
    from capgate.contracts.errors import PluginServiceError

    settings = settings_or_exit()
    body = _read_json(payload, "--payload")
    cap_id = capability_id or _capability_id(settings, plugin, capability)
    client = PluginClient(
        _credentials(key_file, plugin, capability, cap_id),
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
    )
    try:
        handle = client.send(operation, body, idempotency_key=idempotency_key)
        click.echo(handle.command_id)
        if wait:
            click.echo(json.dumps(handle.result(timeout), sort_keys=True))
    except PluginServiceError as exc:
        error = {"kind": exc.kind.value, "code": exc.code, "message": exc.message}
        click.echo(json.dumps({"error": error}, sort_keys=True))
        raise SystemExit(1) from exc
