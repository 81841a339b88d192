"""The CLI's error boundary: each kind of failure is one line, a fix and its exit code."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capgate.cli.failures import EXIT_BROKER, EXIT_DATABASE, EXIT_NOT_MIGRATED, EXIT_SETTINGS
from capgate.cli.main import cli


def free_port() -> int:
    """A local TCP port nothing listens on (so connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(cli, args, env={"CAPGATE_DEBUG": "", **env})


def one_line(result: Result) -> str:
    """The failure's output, checked to be a single ``Error:`` line without a traceback."""
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_malformed_json_setting_names_the_variable_and_position(tmp_path: Path) -> None:
    result = run(
        ["plugins", "list"],
        CAPGATE_RETRY_POLICIES="{bad",
        CAPGATE_DATABASE_URL=f"sqlite:///{tmp_path}/c.db",
    )
    line = one_line(result)
    assert result.exit_code == EXIT_SETTINGS
    assert "CAPGATE_RETRY_POLICIES" in line
    assert "line 1 column 2" in line


def test_database_not_migrated_says_to_run_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    for args in (["audit", "tail"], ["audit", "verify"], ["plugins", "list"]):
        result = run(args, CAPGATE_DATABASE_URL=url)
        line = one_line(result)
        assert result.exit_code == EXIT_NOT_MIGRATED, (args, result.output)
        assert "capgate db upgrade" in line


@pytest.mark.parametrize("args", [["db", "upgrade"], ["plugins", "list"], ["dead-letters", "list"]])
def test_database_down_names_the_real_cause(args: list[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/capgate"
    result = run(args, CAPGATE_DATABASE_URL=url)
    line = one_line(result)
    assert result.exit_code == EXIT_DATABASE
    assert "CAPGATE_DATABASE_URL" in line
    assert "Connection refused" in line
    assert "db upgrade' been run" not in line


@pytest.mark.integration
def test_missing_postgres_database_names_it(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/capgate_no_such_database"
    result = run(["db", "upgrade"], CAPGATE_DATABASE_URL=url)
    line = one_line(result)
    assert result.exit_code == EXIT_DATABASE
    assert '"capgate_no_such_database" does not exist' in line


def test_send_with_the_broker_down_is_one_line(tmp_path: Path) -> None:
    keys = tmp_path / "key.json"
    fields = {"plugin_id": "p", "plugin_name": "digest", "key_id": "k", "key_secret": "s" * 43}
    keys.write_text(json.dumps(fields))
    payload = '{"to": ["a@example.com"], "subject": "hi", "text": "hello"}'
    args = ["send", "email.send", "--plugin", "digest", "--capability", "mailer"]
    args += ["--key-file", str(keys)]
    args += ["--capability-id", "00000000-0000-0000-0000-000000000001", "--payload", payload]
    broker = f"redis://127.0.0.1:{free_port()}/0"
    result = run(args, CAPGATE_BROKER_URL=broker, CAPGATE_RESULT_BACKEND=broker)
    line = one_line(result)
    assert result.exit_code == EXIT_BROKER
    assert "CAPGATE_BROKER_URL" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    for args, env in (
        (["--debug", "audit", "tail"], {}),
        (["audit", "tail"], {"CAPGATE_DEBUG": "1"}),
    ):
        result = run(args, CAPGATE_DATABASE_URL=url, **env)
        assert result.exit_code == 1
        assert "no such table" in repr(result.exception)


def test_worker_refuses_an_unknown_queue_and_suggests_the_real_one(tmp_path: Path) -> None:
    broker = f"redis://127.0.0.1:{free_port()}/0"  # never reached: refused before start
    result = run(
        ["worker", "-Q", "capgate.email", "--no-pump"],
        CAPGATE_BROKER_URL=broker,
        CAPGATE_RESULT_BACKEND=broker,
        CAPGATE_DATABASE_URL=f"sqlite:///{tmp_path}/c.db",
    )
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, result.output
    assert "did you mean capgate.email_providers?" in error[0]
    assert "capgate.users" in error[0]
    assert "task_create_missing_queues" not in result.output
