"""The reliability scenarios of docs/reliability.md (1-4) at small sizes, as slow tests.

Each runs the scenario's own ``run`` (its own ``redis-server``, its own
PostgreSQL database, real ``capgate worker`` processes) and asserts the
guarantees of issue 9 on the figures it reports. Out of the default run
(``slow``); CI runs them in a step of their own:
``pytest -m slow tests/e2e/test_reliability_scenarios.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from scenarios import broker_restart, db_outage, flaky_provider, worker_crash
from scenarios.db_outage_email import run_email
from tests.support.services import POSTGRES_ADMIN_URL, port_open, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(autouse=True)
def services() -> None:
    admin = make_url(POSTGRES_ADMIN_URL)
    if not port_open(admin.host or "127.0.0.1", admin.port or 5432):
        unavailable("PostgreSQL")
    if shutil.which("redis-server") is None:
        unavailable("redis-server (the scenarios start their own)")


def explain(figures: dict[str, Any]) -> str:
    return f"figures: {figures}"


@pytest.mark.timeout(900)
def test_worker_crash_loses_nothing_and_sends_each_message_once(tmp_path: Path) -> None:
    kills = 2
    figures = worker_crash.run(commands=300, kills=kills, timeout=600, folder=tmp_path)
    why = explain(figures)
    assert figures["sent"] == 300, why
    assert figures["missing"] == 0, why
    assert figures["completed"] == 300, why  # exactly one terminal row, succeeded
    assert figures["more_than_one_terminal_row"] == 0, why
    assert figures["results_stored_as_failure"] == 0, why
    assert figures["sink_missing"] == 0 and figures["sink_unexpected"] == 0, why
    # The only duplicate allowed: a message the SMTP server accepted just before
    # a kill prevented its commit, resent with the same Message-ID (at most one
    # per pool process, two per kill).
    assert figures["sink_duplicates_same_message_id"] <= 2 * kills, why


@pytest.mark.timeout(900)
def test_db_outage_acknowledges_nothing_without_its_audit_row(tmp_path: Path) -> None:
    figures = db_outage.run(commands=300, outage=10.0, folder=tmp_path)
    why = explain(figures)
    assert figures["sent"] == 300, why
    assert figures["missing"] == 0, why
    assert figures["completed"] == 300, why
    assert figures["more_than_one_terminal_row"] == 0, why
    mismatches = figures["results_vs_audit_mismatches"]
    assert mismatches["stored_without_matching_audit"] == 0, why
    # A commit whose reply the outage cut off looks failed and the message is
    # requeued; its redelivered copy must store the settled result, so the
    # caller waiting on it gets it (it once timed out, 1 of 300 in 1 run of 5).
    assert mismatches["audited_without_result"] == 0, why
    assert figures["change_log_rows_per_command"] == {1: 300}, why  # nothing ran twice
    assert figures["bundles_left_disabled"] == 0, why
    assert figures["connections_refused_during_outage"] > 0, why  # the outage happened


def test_db_outage_email_sends_each_email_once_and_audits_every_send(tmp_path: Path) -> None:
    figures = run_email(commands=150, outage=5.0, folder=tmp_path)
    why = explain(figures)
    assert figures["completed"] == 150 and figures["missing"] == 0, why
    assert figures["terminations_after_acceptance"] == 2, why
    # A termination after the provider accepted no longer makes a second copy.
    assert figures["extra_copies"] <= figures["audited_resent"], why
    assert figures["unaudited_copies"] == 0, why


@pytest.mark.timeout(900)
def test_broker_restart_loses_no_published_command(tmp_path: Path) -> None:
    figures = broker_restart.run(commands=300, rate=50.0, down=3.0, folder=tmp_path, wait=180)
    why = explain(figures)
    published = figures["sent"]
    assert published + figures["publish_raised_while_down"] == 300, why
    assert figures["lost"] == {} and figures["missing"] == 0, why
    assert figures["completed"] == published, why
    assert figures["more_than_one_terminal_row"] == 0, why
    assert figures["change_log_rows_per_command"] == {1: published}, why
    assert figures["worker_exited_on_broker_loss"] is False, why
    assert figures["results_not_stored"] == 0, why  # every caller gets its result


@pytest.mark.timeout(900)
def test_flaky_provider_delivers_with_growing_delays_and_dead_letters_replay(
    tmp_path: Path,
) -> None:
    commands = 5
    figures = flaky_provider.run(commands=commands, down=10.0, folder=tmp_path)
    why = explain(figures)
    for name in ("flaky", "late"):
        group = figures[name]
        assert group["completed"] == commands and group["missing"] == 0, why
        assert group["sink"]["missing"] == 0 and group["sink"]["duplicates"] == 0, why
        assert group["commands_whose_delays_shrank_beyond_jitter"] == 0, why
        assert max(group["attempts_used"]) <= flaky_provider.POLICY["max_attempts"], why
    assert figures["flaky"]["answered_451"] > 0, why
    assert max(figures["late"]["attempts_used"]) > 1, why  # it was retried
    dead = figures["dead"]
    assert dead["terminal_outcomes"] == {"dead_lettered": commands}, why
    assert dead["attempts_used"] == {flaky_provider.POLICY["max_attempts"]: commands}, why
    assert dead["commands_whose_delays_shrank_beyond_jitter"] == 0, why
    assert dead["dead_letters"] == commands and dead["replays_refused_by_cli"] == 0, why
    assert dead["succeeded_after_replay"] == commands, why
    assert dead["sink_after_replay"]["missing"] == 0, why
    assert dead["sink_after_replay"]["duplicates"] == 0, why
