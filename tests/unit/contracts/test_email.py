"""``email.send``: addresses, recipient and size limits, header injection, attachments."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from capgate.contracts.email import (
    ATTACHMENTS_MAX_BYTES,
    HTML_MAX_BYTES,
    MAX_RECIPIENTS,
    TEXT_MAX_BYTES,
    SendEmail,
    SendEmailResult,
)


def send(**fields: Any) -> SendEmail:
    data: dict[str, Any] = {"to": ["a@example.com"], "subject": "Hi", "text": "Hello"}
    data.update(fields)
    return SendEmail.model_validate(data)


def error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.errors()}


def attachment(size: int, name: str = "a.bin") -> dict[str, str]:
    content = base64.b64encode(b"\0" * size).decode("ascii")
    return {"filename": name, "content_type": "application/octet-stream", "content_base64": content}


@pytest.mark.parametrize(
    "address",
    ["a@example.com", "first.last+tag@sub.example.co.uk", "o'hara@example.io", "x_y-z@a-b.example"],
)
def test_accepts_ordinary_addresses(address: str) -> None:
    assert send(to=[address], reply_to=address).reply_to == address


@pytest.mark.parametrize(
    "address",
    [
        "plain",
        "a@localhost",
        "a@@example.com",
        ".a@example.com",
        "a..b@example.com",
        "a@-example.com",
        "Name <a@example.com>",
        "a@example.com\r\nBcc: victim@example.com",
        "a,b@example.com",
        "jürgen@example.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_refuses_malformed_addresses_naming_the_field(address: str) -> None:
    with pytest.raises(ValidationError) as caught:
        send(cc=[address])
    assert error_fields(caught.value) == {"cc.0"}


def test_limits_the_total_number_of_recipients() -> None:
    send(to=[f"u{i}@example.com" for i in range(MAX_RECIPIENTS)])
    with pytest.raises(ValidationError, match="at most 50 recipients in total"):
        send(to=["a@example.com"] * 30, bcc=["b@example.com"] * 21)
    with pytest.raises(ValidationError, match="at least one recipient"):
        send(to=[])


def test_bcc_only_message_is_allowed() -> None:
    assert send(to=[], bcc=["hidden@example.com"]).bcc == ["hidden@example.com"]


def test_subject_is_bounded_and_single_line() -> None:
    send(subject="x" * 998)
    send(subject="tab\tis fine, ünïcödé too")
    for bad in ("x" * 999, "Hi\r\nBcc: victim@example.com", "nul\0", "lf\n"):
        with pytest.raises(ValidationError) as caught:
            send(subject=bad)
        assert error_fields(caught.value) == {"subject"}


def test_needs_a_body_and_bounds_each_body_in_utf8_bytes() -> None:
    assert send(text=None, html="<p>hi</p>").html == "<p>hi</p>"
    with pytest.raises(ValidationError, match="text/html: at least one body"):
        send(text=None)
    send(text="x" * TEXT_MAX_BYTES)
    with pytest.raises(ValidationError) as caught:
        send(text="é" * (TEXT_MAX_BYTES // 2 + 1))
    assert error_fields(caught.value) == {"text"}
    with pytest.raises(ValidationError) as caught:
        send(html="x" * (HTML_MAX_BYTES + 1))
    assert error_fields(caught.value) == {"html"}


def test_attachments_must_be_valid_base64_with_safe_names() -> None:
    ok = send(attachments=[attachment(10, "Report (final) v2.pdf")])
    assert ok.attachments[0].size == 10
    bad_cases = [
        ({**attachment(3), "content_base64": "not base64!"}, "attachments.0.content_base64"),
        ({**attachment(3), "content_base64": "YWJj="}, "attachments.0.content_base64"),
        ({**attachment(3), "filename": "../etc/passwd"}, "attachments.0.filename"),
        ({**attachment(3), "filename": ".hidden"}, "attachments.0.filename"),
        ({**attachment(3), "filename": "a\\b.txt"}, "attachments.0.filename"),
        ({**attachment(3), "content_type": "text/plain; charset=x"}, "attachments.0.content_type"),
    ]
    for item, field in bad_cases:
        with pytest.raises(ValidationError) as caught:
            send(attachments=[item])
        assert error_fields(caught.value) == {field}, item


def test_attachments_are_bounded_in_total_decoded_size() -> None:
    half = ATTACHMENTS_MAX_BYTES // 2
    send(attachments=[attachment(half), attachment(half)])
    with pytest.raises(ValidationError, match="attachments: at most"):
        send(attachments=[attachment(half), attachment(half + 1)])


def test_headers_refuse_ones_capgate_sets_and_bad_names() -> None:
    assert send(headers={"X-Campaign": "spring"}).headers == {"X-Campaign": "spring"}
    for headers in ({"message-ID": "<x@y>"}, {"BCC": "a@example.com"}, {"From": "a@b.co"}):
        with pytest.raises(ValidationError, match="capgate sets these headers itself"):
            send(headers=headers)
    with pytest.raises(ValidationError) as caught:
        send(headers={"X Bad": "v"})
    assert error_fields(caught.value) == {"headers.X Bad.[key]"}
    with pytest.raises(ValidationError) as caught:
        send(headers={"X-Ok": "v\r\nBcc: a@example.com"})
    assert error_fields(caught.value) == {"headers.X-Ok"}


def test_model_is_frozen_refuses_unknown_fields_and_hides_bodies_from_repr() -> None:
    message = send(text="the secret body", attachments=[attachment(3)])
    with pytest.raises(ValidationError):
        message.subject = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError) as caught:
        send(priority="high")
    assert error_fields(caught.value) == {"priority"}
    assert "secret body" not in repr(message)
    assert "AAAA" not in repr(message)


def test_result_carries_a_message_id_and_the_provider() -> None:
    result = SendEmailResult(message_id="<cmd-1@capgate>", provider="corp-smtp")
    assert result.provider == "corp-smtp"
    with pytest.raises(ValidationError) as caught:
        SendEmailResult(message_id="cmd-1", provider="corp-smtp")
    assert error_fields(caught.value) == {"message_id"}
