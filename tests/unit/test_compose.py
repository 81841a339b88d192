"""docker-compose.yml: its structure, and that every command is one capgate really has.

There is no Docker engine (nor compose plugin) in CI, so the file is parsed
with PyYAML, interpolated from .env.example the way compose does, and each
service's command and health check is parsed by the real click command (for
``capgate ...``) or checked against Celery's commands (for ``celery -A ...``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from capgate.cli.main import cli
from capgate.workers.celery_app import queue_names

ROOT = Path(__file__).resolve().parents[2]
CAPGATE_IMAGE_SERVICES = ("migrate", "worker-email", "worker-core", "pump", "flower")
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::?(?P<op>[-?])(?P<arg>[^}]*))?\}|\$\$")


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): value.strip() for name, value in pairs}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$; a missing required VAR fails."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        if name in env:
            return env[name]
        assert op == "-", f"${{{name}}} is required but .env.example does not set it"
        return str(arg)

    return _VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return dict(interpolate(raw, env_example()))


def parse_capgate(argv: list[str]) -> click.Context:
    """Parse ``capgate ...`` with the real CLI down to the leaf command; raises on a bad one."""
    assert argv[0] == "capgate"
    command: click.Command = cli
    ctx = click.Context(cli, info_name="capgate")
    rest = argv[1:]
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None, f"no such command: {argv}"
        command = sub
        ctx = click.Context(sub, info_name=name, parent=ctx)
    return command.make_context(ctx.info_name, rest, parent=ctx.parent)


def check_celery(argv: list[str]) -> None:
    """``celery -A module <command> ...``: the module has an app and the command exists."""
    from celery.bin.celery import celery as celery_cli

    assert argv[:2] == ["celery", "-A"]
    module = importlib.import_module(argv[2])
    assert hasattr(module, "app"), f"{argv[2]} has no Celery app"
    assert argv[3] in celery_cli.commands, f"celery has no '{argv[3]}' command"


def check_command(argv: list[str]) -> None:
    if argv[0] == "capgate":
        ctx = parse_capgate(argv)
        # 'capgate worker' hands unknown options to Celery: a typo would hide there.
        assert not ctx.params.get("celery_args"), f"unknown options in {argv}"
    else:
        check_celery(argv)


def test_the_services_operators_need_are_all_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "postgres", *CAPGATE_IMAGE_SERVICES}
    assert services["redis"]["command"][:3] == ["redis-server", "--appendonly", "yes"]
    assert "/var/lib/postgresql/data" in services["postgres"]["volumes"][0]
    assert set(compose["volumes"]) >= {"redis-data", "postgres-data"}
    assert services["migrate"]["restart"] == "no"
    for name in CAPGATE_IMAGE_SERVICES:
        assert Path(ROOT / "Dockerfile").exists() and services[name]["build"] == "."
    for name in ("worker-email", "worker-core", "pump", "flower"):
        waits = services[name]["depends_on"]
        assert waits["migrate"]["condition"] == "service_completed_successfully"
        assert waits["redis"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name != "migrate":
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_every_command_and_health_check_is_one_the_project_really_has(
    compose: dict[str, Any],
) -> None:
    checked = 0
    for service in compose["services"].values():
        command = service.get("command")
        if command and command[0] in ("capgate", "celery"):
            check_command(command)
            checked += 1
        test = service.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD"] and test[1] == "capgate":
            check_command(test[1:])
            checked += 1
        if test[:1] == ["CMD-SHELL"] and test[1].startswith("celery "):
            check_command(test[1].split()[:4])
            checked += 1
    assert checked >= 8


def test_a_misspelled_option_would_be_caught() -> None:
    with pytest.raises(AssertionError, match="unknown options"):
        check_command(["capgate", "worker", "--metrics-prot", "9100"])
    with pytest.raises(click.UsageError):
        check_command(["capgate", "db", "upgrad"])
    with pytest.raises(AssertionError, match="no 'flour' command"):
        check_command(["celery", "-A", "capgate.workers.main", "flour"])


def test_email_has_its_own_workers_and_every_queue_is_served_once(
    compose: dict[str, Any],
) -> None:
    served: list[str] = []
    for name in ("worker-email", "worker-core"):
        ctx = parse_capgate(compose["services"][name]["command"])
        served += ctx.params["queues"].split(",")
        # The pump service publishes retries; a worker that also did would duplicate the work.
        assert ctx.params["pump"] is False
        assert ctx.params["metrics_port"] == 9100
    assert parse_capgate(compose["services"]["worker-email"]["command"]).params["queues"] == (
        "capgate.email_providers"
    )
    assert sorted(served) == sorted(queue_names())


def test_secrets_come_from_the_environment_and_flower_requires_a_login(
    compose: dict[str, Any],
) -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    for required in ("CAPGATE_SECRET", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "FLOWER_BASIC_AUTH"):
        assert f"${{{required}:?" in raw, f"{required} must be required, not defaulted"
    flower = compose["services"]["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == env_example()["FLOWER_BASIC_AUTH"]
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
    assert compose["services"]["worker-email"]["environment"]["CAPGATE_ENVIRONMENT"] == "production"


def test_the_image_copies_every_folder_the_package_installs_from() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(config["tool"]["setuptools"]["package-dir"].values())
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    assert folders <= copied, f"Dockerfile does not copy {sorted(folders - copied)}"
    assert 'pip install ".[ops]"' in dockerfile
