"""Log lines: JSON with the command's identifiers off a terminal, text on one, no bodies."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from capgate.logs import configure_logging, mask_url, scrub
from capgate.workers.observe import observe_pipeline
from tests.support.world import Plugin, World, delivery, recording_handler

OP = "users.assign_role"
MARKER = "marker-7f3a9c-never-logged"


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def world(sqlite_url: str) -> World:
    return World.create(sqlite_url)


@pytest.fixture
def plugin(world: World) -> Plugin:
    return world.add_plugin("alpha", "admin", {"users:write": None})


def command_lines(text: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "capgate.commands"]


@pytest.mark.usefixtures("root_logging")
def test_a_pipeline_run_logs_one_json_line_with_identifiers_and_no_payload(
    world: World, plugin: Plugin, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json_lines=True)
    pipeline = observe_pipeline(world.pipeline({OP: recording_handler([])}))
    context = plugin.context(correlation_id="corr-42")
    payload = {"user_id": "u-1", "role": "viewer", "options": {"reason": MARKER}}
    text = plugin.command(OP, payload, context=context)
    verdict = pipeline.run(delivery(text, OP))
    err = capsys.readouterr().err
    [line] = command_lines(err)
    assert line["command_id"] == verdict.command_id
    assert line["correlation_id"] == "corr-42"
    assert line["plugin"] == "alpha"
    assert line["operation"] == OP
    assert line["attempt"] == 1
    assert line["outcome"] == "succeeded"
    assert MARKER not in err
    assert plugin.key.secret not in err


@pytest.mark.usefixtures("root_logging")
def test_a_rolled_back_attempt_is_not_logged(
    world: World, plugin: Plugin, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json_lines=True)

    def broken(invocation: object) -> object:
        raise KeyboardInterrupt  # escapes the pipeline: its transaction rolls back

    pipeline = observe_pipeline(world.pipeline({OP: broken}))  # type: ignore[dict-item]
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(delivery(plugin.command(OP, {"user_id": "u-1", "role": "viewer"}), OP))
    assert command_lines(capsys.readouterr().err) == []


@pytest.mark.usefixtures("root_logging")
def test_terminal_lines_are_readable_text_with_the_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json_lines=False)
    logging.getLogger("capgate.commands").info(
        "users.activate attempt 2", extra={"command_id": "c-1", "outcome": "succeeded"}
    )
    err = capsys.readouterr().err
    assert "users.activate attempt 2 [command_id=c-1 outcome=succeeded]" in err
    assert not err.lstrip().startswith("{")


@pytest.mark.usefixtures("root_logging")
def test_only_allow_listed_extras_and_masked_url_passwords_reach_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json_lines=True)
    logging.getLogger("capgate.test").warning(
        "cannot reach redis://:hunter2@redis:6379/0", extra={"body": MARKER, "plugin": "p"}
    )
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert line["plugin"] == "p" and "body" not in line
    assert line["message"] == "cannot reach redis://:***@redis:6379/0"


def test_mask_url_keeps_urls_without_a_password() -> None:
    assert mask_url("postgresql://capgate@db/capgate") == "postgresql://capgate@db/capgate"
    assert mask_url("amqp://u:p%40ss@mq//") == "amqp://u:***@mq//"


def test_celery_quotes_of_a_rejected_message_are_cut_from_the_line() -> None:
    from celery.worker.consumer.consumer import MESSAGE_DECODE_ERROR, UNKNOWN_TASK_ERROR

    unknown = UNKNOWN_TASK_ERROR % ("'celery.group'", MARKER, {"argsrepr": MARKER}, {})
    decode = MESSAGE_DECODE_ERROR % (
        "ContentDisallowed('Refusing to deserialize untrusted content of type pickle')",
        "application/x-python-serialize",
        "binary",
        {"argsrepr": MARKER},
        MARKER,
    )
    for text, kept in (
        (unknown, "Received unregistered task of type 'celery.group'."),
        (decode, "Refusing to deserialize untrusted content of type pickle"),
    ):
        cleaned = scrub(text)
        assert kept in cleaned and MARKER not in cleaned
        assert cleaned.endswith("[message body and headers withheld by capgate]")
