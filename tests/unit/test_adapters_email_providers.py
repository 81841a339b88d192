"""The email port's pieces: Message-IDs, MIME, the .eml writer and the fake's controls."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from capgate.adapters.email.eml import EmlFileSender, eml_path
from capgate.adapters.email.fake import FakeEmailSender
from capgate.adapters.email.message import OutgoingAttachment, OutgoingEmail, message_id_for
from capgate.contracts.errors import ErrorKind, PluginServiceError

MESSAGE = OutgoingEmail(
    message_id="<cmd-1@capgate.invalid>",
    sender="noreply@example.com",
    date=datetime(2026, 3, 1, tzinfo=UTC),
    subject="Report",
    to=("bob@example.com",),
    bcc=("hidden@example.com",),
    text="plain",
    html="<p>rich</p>",
    attachments=(OutgoingAttachment("a.pdf", "application/pdf", b"%PDF"),),
    headers=(("X-Campaign", "q1"),),
)


def test_message_id_is_deterministic_and_valid() -> None:
    assert message_id_for("cmd-1", "mail.example") == "<cmd-1@mail.example>"
    hashed = message_id_for("tenant:cmd:1", "capgate.invalid")
    assert hashed == message_id_for("tenant:cmd:1", "capgate.invalid")
    assert hashed.startswith("<cmd-") and ":" not in hashed


def test_mime_has_both_bodies_the_attachment_and_no_bcc() -> None:
    mime = MESSAGE.to_mime()
    assert mime["Bcc"] is None and mime["X-Campaign"] == "q1"
    assert [part.get_content_type() for part in mime.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf",
    ]  # fmt: skip
    assert "plain" not in repr(MESSAGE)


def test_eml_writes_one_file_per_message_id(tmp_path: Path) -> None:
    sender = EmlFileSender(tmp_path / "out")
    sender.send(MESSAGE)
    sender.send(MESSAGE)  # a resend overwrites its own file
    (written,) = (tmp_path / "out").iterdir()
    assert written == eml_path(tmp_path / "out", MESSAGE.message_id)
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert parsed["X-Envelope-To"] == "bob@example.com, hidden@example.com"


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (PermissionError(13, "Permission denied"), ErrorKind.FATAL, "eml_folder_not_writable"),
        (OSError(28, "No space left on device"), ErrorKind.RETRYABLE, "eml_write_failed"),
    ],
)
def test_eml_error_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: OSError, kind: ErrorKind, code: str
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(Path, "write_bytes", broken)
    with pytest.raises(PluginServiceError) as raised:
        EmlFileSender(tmp_path).send(MESSAGE)
    assert (raised.value.kind, raised.value.code) == (kind, code)


def fails(fake: FakeEmailSender) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as error:
        fake.send(MESSAGE)
    return error.value


def test_fake_fails_twice_then_recovers() -> None:
    fake = FakeEmailSender()
    fake.fail_times(2)
    assert [fails(fake).kind, fails(fake).kind] == [ErrorKind.RETRYABLE] * 2
    assert fake.send(MESSAGE).provider_message_id == "fake-1"
    assert len(fake.attempts) == 3 and fake.sent_message_ids == [MESSAGE.message_id]


def test_fake_never_recovers_until_told() -> None:
    fake = FakeEmailSender()
    fake.always_fail(ErrorKind.FATAL)
    assert [fails(fake).code for _ in range(3)] == ["fake_fatal"] * 3
    fake.recover()
    fake.send(MESSAGE)
    assert len(fake.sent) == 1


def test_fake_rate_limit_carries_a_hint() -> None:
    fake = FakeEmailSender()
    fake.fail_times(1, ErrorKind.RATE_LIMIT, retry_after_ms=250)
    assert fails(fake).retry_after_ms == 250
    assert fake.factory("anything") is fake
