"""The SMTP provider against a real SMTP server process on localhost (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from capgate.adapters.email.config import SmtpConfig
from capgate.adapters.email.message import OutgoingEmail, message_id_for
from capgate.adapters.email.smtp import SmtpSender
from capgate.contracts.errors import ErrorKind, PluginServiceError
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer
from tests.support.tls import LocalCertificate, make_certificate

pytestmark = pytest.mark.integration


def message(**fields: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "message_id": message_id_for("cmd-42", "capgate.test"),
        "sender": "noreply@example.com",
        "date": datetime(2026, 3, 1, tzinfo=UTC),
        "subject": "Report",
        "to": ("bob@example.com",),
        "bcc": ("audit@example.com",),
        "text": "hello",
    }
    values.update(fields)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def config(port: int, **fields: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "noreply@example.com",
        "timeout_seconds": 5,
    }
    values.update(fields)
    return SmtpConfig.model_validate(values)


@pytest.fixture
def server() -> Iterator[SmtpTestServer]:
    running = SmtpTestServer(free_port()).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> LocalCertificate:
    return make_certificate(Path(tmp_path_factory.mktemp("tls")))


def failure(sender: SmtpSender) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as error:
        sender.send(message())
    return error.value


def test_a_message_arrives_with_its_message_id_and_hidden_bcc(server: SmtpTestServer) -> None:
    sent = SmtpSender(config(server.port)).send(message())
    assert sent.message_id == "<cmd-42@capgate.test>" and sent.rejected == ()
    (received,) = server.received
    assert received["Message-ID"] == "<cmd-42@capgate.test>"
    assert received["Bcc"] is None
    assert received["X-Test-Envelope-To"] == "bob@example.com, audit@example.com"


def test_a_partly_refused_send_succeeds_and_reports_the_refused(server: SmtpTestServer) -> None:
    server.behaviour.refuse_recipients = {"audit@example.com"}
    sent = SmtpSender(config(server.port)).send(message())
    assert sent.rejected == ("audit@example.com",)
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("where", "reply", "kind", "code"),
    [
        ("mail_reply", "421 4.3.2 shutting down", ErrorKind.RETRYABLE, "smtp_service_unavailable"),
        ("rcpt_reply", "450 4.2.1 mailbox busy", ErrorKind.RETRYABLE, "smtp_mailbox_busy"),
        ("data_reply", "451 4.3.0 try later", ErrorKind.RETRYABLE, "smtp_local_error"),
        ("data_reply", "452 4.3.1 no space", ErrorKind.RETRYABLE, "smtp_insufficient_storage"),
        ("rcpt_reply", "550 5.1.1 no such user", ErrorKind.NOT_FOUND, "smtp_mailbox_unavailable"),
        ("data_reply", "552 5.3.4 too big", ErrorKind.VALIDATION, "smtp_message_too_large"),
        ("mail_reply", "553 5.1.8 bad sender", ErrorKind.VALIDATION, "smtp_mailbox_name_invalid"),
        ("data_reply", "554 5.7.1 spam", ErrorKind.FATAL, "smtp_transaction_failed"),
    ],
)
def test_server_replies_map_to_kinds(
    server: SmtpTestServer, where: str, reply: str, kind: ErrorKind, code: str
) -> None:
    setattr(server.behaviour, where, reply)
    error = failure(SmtpSender(config(server.port)))
    assert (error.kind, error.code) == (kind, code)
    assert server.received == []


def test_a_dropped_connection_is_retryable(server: SmtpTestServer) -> None:
    server.behaviour.drop_at_data = True
    error = failure(SmtpSender(config(server.port)))
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "smtp_disconnected")


def test_a_server_that_is_down_is_retryable() -> None:
    error = failure(SmtpSender(config(free_port())))
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "smtp_connection_refused")


def test_a_server_that_does_not_answer_in_time_is_retryable(server: SmtpTestServer) -> None:
    server.behaviour.data_delay = 3.0
    error = failure(SmtpSender(config(server.port, timeout_seconds=0.5)))
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "smtp_timeout")


@pytest.fixture
def auth_server(certificate: LocalCertificate) -> Iterator[SmtpTestServer]:
    running = SmtpTestServer(
        free_port(),
        credentials=("mailer", "right-password"),
        starttls_context=certificate.server_context(),
    ).start()
    yield running
    running.stop()


def auth_sender(certificate: LocalCertificate, port: int, **fields: object) -> SmtpSender:
    settings = config(port, security="starttls", **fields)
    return SmtpSender(settings, tls_context=certificate.client_context())


def test_login_with_the_right_password_delivers(
    auth_server: SmtpTestServer, certificate: LocalCertificate
) -> None:
    sender = auth_sender(
        certificate, auth_server.port, username="mailer", password="right-password"
    )
    sender.send(message())
    assert auth_server.auth_attempts == ["mailer"] and len(auth_server.received) == 1


def test_a_wrong_password_is_fatal(
    auth_server: SmtpTestServer, certificate: LocalCertificate
) -> None:
    sender = auth_sender(certificate, auth_server.port, username="mailer", password="wrong")
    error = failure(sender)
    assert (error.kind, error.code) == (ErrorKind.FATAL, "smtp_auth_failed")
    assert "wrong" not in error.message


def test_sending_without_login_where_it_is_required_is_fatal(
    auth_server: SmtpTestServer, certificate: LocalCertificate
) -> None:
    error = failure(auth_sender(certificate, auth_server.port))
    assert (error.kind, error.code) == (ErrorKind.FATAL, "smtp_auth_required")


def test_starttls_delivers_with_a_trusted_certificate(certificate: LocalCertificate) -> None:
    server = SmtpTestServer(free_port(), starttls_context=certificate.server_context()).start()
    try:
        sender = SmtpSender(
            config(server.port, security="starttls"), tls_context=certificate.client_context()
        )
        sender.send(message())
        assert len(server.received) == 1
    finally:
        server.stop()


def test_starttls_refuses_an_untrusted_certificate(certificate: LocalCertificate) -> None:
    server = SmtpTestServer(free_port(), starttls_context=certificate.server_context()).start()
    try:
        error = failure(SmtpSender(config(server.port, security="starttls")))
        assert (error.kind, error.code) == (ErrorKind.FATAL, "smtp_tls_certificate_rejected")
        assert server.received == []
    finally:
        server.stop()


def test_implicit_tls_delivers(certificate: LocalCertificate) -> None:
    server = SmtpTestServer(free_port(), implicit_tls_context=certificate.server_context()).start()
    try:
        sender = SmtpSender(
            config(server.port, security="tls"), tls_context=certificate.client_context()
        )
        sender.send(message())
        assert len(server.received) == 1
    finally:
        server.stop()
