"""What a command's result shows in the worker log and Flower, and what the caller gets."""

from __future__ import annotations

from celery.utils.saferepr import saferepr
from kombu.utils.json import dumps, loads

from capgate.audit.events import Outcome
from capgate.workers.task import verdict_result
from capgate.workers.work import Verdict, VerdictKind

TOKEN = "eyJsaW5rIjoxfQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
LINK = {
    "link_id": "lnk-1",
    "url": f"https://core.example/releases/b-1?token={TOKEN}",
    "expires_at": "2026-11-30T06:00:00Z",
}


def _result(response: dict[str, object] | None) -> dict[str, object]:
    verdict = Verdict(VerdictKind.SUCCEEDED, Outcome.SUCCEEDED, "cmd-1", 1, response)
    return verdict_result(verdict)


def test_the_log_and_flower_view_of_a_release_link_holds_no_token() -> None:
    shown = saferepr(_result(LINK), 1024)  # what Celery logs and sends in task-succeeded
    assert TOKEN not in shown and "core.example" not in shown
    assert "lnk-1" in shown and "url:sha256=" in shown


def test_the_caller_gets_the_whole_response() -> None:
    stored = loads(dumps(_result(LINK)))  # what the result backend holds
    assert stored["response"] == LINK
    assert stored["command_id"] == "cmd-1" and stored["outcome"] == "succeeded"


def test_the_response_reads_like_the_dict_it_wraps() -> None:
    response = _result(LINK)["response"]
    assert response == LINK
    assert dict(response) == LINK  # type: ignore[call-overload]
    assert _result(None)["response"] is None
