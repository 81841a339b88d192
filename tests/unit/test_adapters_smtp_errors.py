"""Every row of the SMTP error table, one test case each."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest

from capgate.adapters.email.smtp_errors import (
    SMTP_EXCEPTIONS,
    SMTP_REPLY_CODES,
    error_for_reply,
    translate_smtp_errors,
)
from capgate.contracts.errors import ErrorKind, PluginServiceError


def raised(exc: BaseException) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as error, translate_smtp_errors():
        raise exc
    return error.value


@pytest.mark.parametrize(("code", "row"), sorted(SMTP_REPLY_CODES.items()))
def test_each_reply_code_row(code: int, row: tuple[ErrorKind, str]) -> None:
    error = raised(smtplib.SMTPDataError(code, b"server says no"))
    assert (error.kind, error.code) == row
    assert error.details["smtp_code"] == code and "server says no" in error.message


@pytest.mark.parametrize(
    ("code", "kind", "name"),
    [
        (447, ErrorKind.RETRYABLE, "smtp_temporary_failure"),
        (571, ErrorKind.FATAL, "smtp_permanent_failure"),
        (299, ErrorKind.FATAL, "smtp_unexpected_reply"),
    ],
)
def test_unlisted_codes_fall_back_by_class(code: int, kind: ErrorKind, name: str) -> None:
    assert (error_for_reply(code, "x").kind, error_for_reply(code, "x").code) == (kind, name)


def test_the_temporary_table_rows_are_the_ones_the_issue_names() -> None:
    retryable = {c for c, (k, _) in SMTP_REPLY_CODES.items() if k is ErrorKind.RETRYABLE}
    assert {421, 450, 451, 452} <= retryable


def test_authentication_failure_is_fatal() -> None:
    error = raised(smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"))
    assert (error.kind, error.code) == (ErrorKind.FATAL, "smtp_auth_failed")


def test_a_connect_time_421_is_retryable() -> None:
    error = raised(smtplib.SMTPConnectError(421, b"too busy"))
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "smtp_service_unavailable")


def test_all_recipients_refused_prefers_a_temporary_refusal() -> None:
    exc = smtplib.SMTPRecipientsRefused(
        {"a@example.com": (550, b"no such user"), "b@example.com": (450, b"busy")}
    )
    error = raised(exc)
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "smtp_mailbox_busy")
    assert error.details["refused_recipients"] == 2


def test_all_recipients_refused_permanently_uses_the_code() -> None:
    error = raised(smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}))
    assert (error.kind, error.code) == (ErrorKind.NOT_FOUND, "smtp_mailbox_unavailable")


EXCEPTION_EXAMPLES: dict[str, BaseException] = {
    "smtp_disconnected": smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    "smtp_extension_not_supported": smtplib.SMTPNotSupportedError("STARTTLS not supported"),
    "smtp_error": smtplib.SMTPException("No suitable authentication method found."),
    "smtp_tls_certificate_rejected": ssl.SSLCertVerificationError(1, "certificate verify failed"),
    "smtp_tls_failed": ssl.SSLError(1, "wrong version number"),
    "smtp_connection_refused": ConnectionRefusedError(111, "Connection refused"),
    "smtp_timeout": TimeoutError("timed out"),
    "smtp_host_unresolved": socket.gaierror(-2, "Name or service not known"),
    "smtp_network_error": ConnectionResetError(104, "Connection reset by peer"),
}


@pytest.mark.parametrize(("exc_type", "kind", "code"), SMTP_EXCEPTIONS, ids=lambda v: str(v))
def test_each_exception_row(exc_type: type[BaseException], kind: ErrorKind, code: str) -> None:
    example = EXCEPTION_EXAMPLES[code]
    assert type(example) is exc_type or (exc_type is OSError and isinstance(example, OSError))
    error = raised(example)
    assert (error.kind, error.code) == (kind, code)


def test_a_read_timeout_reported_as_disconnect_is_a_timeout() -> None:
    try:
        raise TimeoutError("timed out")
    except TimeoutError:
        try:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out")
        except smtplib.SMTPServerDisconnected as exc:
            error = raised(exc)
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "smtp_timeout")
