"""The Gmail provider against a local HTTP server that answers like Google's endpoints."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from capgate.adapters.email.config import GmailConfig
from capgate.adapters.email.gmail import GmailEndpoints, GmailSender
from capgate.adapters.email.message import OutgoingEmail
from capgate.contracts.errors import ErrorKind, PluginServiceError
from tests.support.gmail_server import GmailTestServer
from tests.support.services import free_port

pytestmark = pytest.mark.integration

CONFIG = GmailConfig.model_validate(
    {
        "client_id": "client-1",
        "client_secret": "client-secret-value",
        "refresh_token": "refresh-token-value",
        "sender": "me@example.com",
        "timeout_seconds": 5,
    }
)
MESSAGE = OutgoingEmail(
    message_id="<cmd-7@capgate.test>",
    sender="me@example.com",
    date=datetime(2026, 3, 1, tzinfo=UTC),
    subject="Hello",
    to=("bob@example.com",),
    text="body",
)


@pytest.fixture
def google() -> Iterator[GmailTestServer]:
    server = GmailTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def sender(google: GmailTestServer) -> GmailSender:
    endpoints = GmailEndpoints(
        token_url=f"{google.base_url}/token", send_url=f"{google.base_url}/send"
    )
    return GmailSender(CONFIG, endpoints=endpoints)


def failure(sender: GmailSender) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as error:
        sender.send(MESSAGE)
    return error.value


def test_refresh_then_send_raw_mime(google: GmailTestServer, sender: GmailSender) -> None:
    sent = sender.send(MESSAGE)
    assert sent.provider_message_id == "gmail-1"
    token_request, send_request = google.state.requests
    form = parse_qs(token_request.body.decode())
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["refresh-token-value"]
    assert send_request.headers["Authorization"] == "Bearer access-1"
    raw = json.loads(send_request.body)["raw"]
    mime = email.message_from_bytes(base64.urlsafe_b64decode(raw), policy=email.policy.default)
    assert mime["Message-ID"] == "<cmd-7@capgate.test>"


def test_the_access_token_is_reused(google: GmailTestServer, sender: GmailSender) -> None:
    sender.send(MESSAGE)
    sender.send(MESSAGE)
    assert google.state.paths() == ["/token", "/send", "/send"]


def test_401_refreshes_once_and_sends(google: GmailTestServer, sender: GmailSender) -> None:
    google.state.send_answers.append((401, {"error": {"code": 401}}, {}))
    assert sender.send(MESSAGE).provider_message_id == "gmail-1"
    assert google.state.paths() == ["/token", "/send", "/token", "/send"]
    assert google.state.requests[-1].headers["Authorization"] == "Bearer access-2"


def test_a_second_401_is_fatal(google: GmailTestServer, sender: GmailSender) -> None:
    google.state.send_answers.extend([(401, {}, {}), (401, {}, {})])
    error = failure(sender)
    assert (error.kind, error.code) == (ErrorKind.FATAL, "gmail_unauthorized")
    assert google.state.paths() == ["/token", "/send", "/token", "/send"]


@pytest.mark.parametrize(
    ("answer", "kind", "code", "hint"),
    [
        ((429, {}, {"Retry-After": "12"}), ErrorKind.RATE_LIMIT, "gmail_rate_limited", 12_000),
        ((500, {}, {}), ErrorKind.RETRYABLE, "gmail_unavailable", None),
        ((503, {}, {"Retry-After": "2"}), ErrorKind.RETRYABLE, "gmail_unavailable", 2000),
        ((400, {"error": "invalidArgument"}, {}), ErrorKind.VALIDATION, "gmail_bad_request", None),
    ],
)
def test_send_endpoint_answers(
    google: GmailTestServer,
    sender: GmailSender,
    answer: tuple[int, dict[str, object], dict[str, str]],
    kind: ErrorKind,
    code: str,
    hint: int | None,
) -> None:
    google.state.send_answers.append(answer)
    error = failure(sender)
    assert (error.kind, error.code, error.retry_after_ms) == (kind, code, hint)


def test_a_revoked_refresh_token_is_fatal(google: GmailTestServer, sender: GmailSender) -> None:
    google.state.token_answers.append((400, {"error": "invalid_grant"}, {}))
    error = failure(sender)
    assert (error.kind, error.code) == (ErrorKind.FATAL, "gmail_token_rejected")
    assert "refresh-token-value" not in error.message
    assert google.state.paths() == ["/token"]


def test_a_token_endpoint_outage_is_retryable(google: GmailTestServer, sender: GmailSender) -> None:
    google.state.token_answers.append((502, {}, {}))
    assert failure(sender).kind is ErrorKind.RETRYABLE


def test_google_unreachable_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    sender = GmailSender(CONFIG, endpoints=GmailEndpoints(f"{url}/token", f"{url}/send"))
    error = failure(sender)
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "gmail_connect_failed")


def test_a_shared_client_stays_open(google: GmailTestServer) -> None:
    with httpx.Client() as client:
        endpoints = GmailEndpoints(f"{google.base_url}/token", f"{google.base_url}/send")
        GmailSender(CONFIG, endpoints=endpoints, client=client).send(MESSAGE)
        assert not client.is_closed
