"""The SMTP error table: smtplib and socket failures -> error kinds.

Two tables, both documented in ``docs/adapters.md`` and tested row by row:

* :data:`SMTP_REPLY_CODES`: a reply code the server sent. Codes not listed
  fall back by class: any other 4xx is RETRYABLE (``smtp_temporary_failure``),
  any other 5xx FATAL (``smtp_permanent_failure``).
* :data:`SMTP_EXCEPTIONS`: failures without a reply code, most specific first
  (``smtplib.SMTPException`` subclasses ``OSError``, so order matters).

Messages carry the server's reply (clipped), never a password.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from capgate.contracts.errors import ErrorKind, PluginServiceError

__all__ = ["SMTP_EXCEPTIONS", "SMTP_REPLY_CODES", "error_for_reply", "translate_smtp_errors"]

R, V, N, F = ErrorKind.RETRYABLE, ErrorKind.VALIDATION, ErrorKind.NOT_FOUND, ErrorKind.FATAL

SMTP_REPLY_CODES: dict[int, tuple[ErrorKind, str]] = {
    421: (R, "smtp_service_unavailable"),
    450: (R, "smtp_mailbox_busy"),
    451: (R, "smtp_local_error"),
    452: (R, "smtp_insufficient_storage"),
    454: (R, "smtp_temporary_auth_failure"),
    500: (F, "smtp_syntax_error"),
    501: (V, "smtp_bad_arguments"),
    502: (F, "smtp_command_not_implemented"),
    503: (F, "smtp_bad_sequence"),
    504: (F, "smtp_parameter_not_implemented"),
    530: (F, "smtp_auth_required"),
    534: (F, "smtp_auth_mechanism_too_weak"),
    535: (F, "smtp_auth_failed"),
    550: (N, "smtp_mailbox_unavailable"),
    551: (N, "smtp_user_not_local"),
    552: (V, "smtp_message_too_large"),
    553: (V, "smtp_mailbox_name_invalid"),
    554: (F, "smtp_transaction_failed"),
    555: (V, "smtp_bad_mail_parameters"),
}

SMTP_EXCEPTIONS: tuple[tuple[type[BaseException], ErrorKind, str], ...] = (
    (smtplib.SMTPServerDisconnected, R, "smtp_disconnected"),
    (smtplib.SMTPNotSupportedError, F, "smtp_extension_not_supported"),
    (smtplib.SMTPException, F, "smtp_error"),
    (ssl.SSLCertVerificationError, F, "smtp_tls_certificate_rejected"),
    (ssl.SSLError, F, "smtp_tls_failed"),
    (ConnectionRefusedError, R, "smtp_connection_refused"),
    (TimeoutError, R, "smtp_timeout"),
    (socket.gaierror, R, "smtp_host_unresolved"),
    (OSError, R, "smtp_network_error"),
)

_CLIP = 200


def error_for_reply(code: int, reply: bytes | str) -> PluginServiceError:
    """The error for an SMTP reply ``code`` with the server's ``reply`` text."""
    if code in SMTP_REPLY_CODES:
        kind, name = SMTP_REPLY_CODES[code]
    elif 400 <= code < 500:
        kind, name = R, "smtp_temporary_failure"
    elif 500 <= code < 600:
        kind, name = F, "smtp_permanent_failure"
    else:
        kind, name = F, "smtp_unexpected_reply"
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return PluginServiceError(
        kind, name, f"SMTP server replied {code}: {text[:_CLIP]}", details={"smtp_code": code}
    )


def _refused(exc: smtplib.SMTPRecipientsRefused) -> PluginServiceError:
    # Every recipient was refused. A temporary refusal of any of them means a
    # retry may still deliver, so it wins over the permanent ones.
    replies = sorted(exc.recipients.values(), key=lambda reply: (reply[0] >= 500, reply[0]))
    code, reply = replies[0] if replies else (554, b"all recipients refused")
    error = error_for_reply(code, reply)
    error.details["refused_recipients"] = len(exc.recipients)
    return error


@contextmanager
def translate_smtp_errors() -> Iterator[None]:
    """Turn any smtplib/socket/ssl failure inside the block into ``PluginServiceError``."""
    try:
        yield
    except PluginServiceError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused(exc) from exc
    except smtplib.SMTPResponseException as exc:
        raise error_for_reply(exc.smtp_code, exc.smtp_error) from exc
    except OSError as exc:
        # smtplib reports a read timeout as "disconnected"; the cause says more.
        cause = exc.__context__
        if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(cause, TimeoutError):
            raise _from_table(cause) from exc
        raise _from_table(exc) from exc


def _from_table(exc: OSError) -> PluginServiceError:
    for exc_type, kind, name in SMTP_EXCEPTIONS:
        if isinstance(exc, exc_type):
            return PluginServiceError(
                kind, name, f"SMTP delivery failed: {type(exc).__name__}: {exc}"[:_CLIP]
            )
    raise AssertionError("unreachable: OSError is the last row")
