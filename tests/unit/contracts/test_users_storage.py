"""User administration and storage payloads and results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from capgate.contracts.storage import (
    TTL_MAX_SECONDS,
    CreateReleaseLink,
    HeadObject,
    ObjectHead,
    ReleaseLink,
)
from capgate.contracts.users import AssignRole, RevokeSessions, RevokeSessionsResult, Role

HASH = "sha256:" + "0f" * 32


def fields_of(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.errors()}


def test_roles_are_a_closed_set() -> None:
    assert {role.value for role in Role} == {"viewer", "editor", "operator", "admin"}
    assert AssignRole(user_id="u1", role="admin").role is Role.ADMIN
    with pytest.raises(ValidationError) as caught:
        AssignRole.model_validate({"user_id": "u1", "role": "root"})
    assert fields_of(caught.value) == {"role"}


def test_revoke_sessions_takes_an_aware_time_normalised_to_utc() -> None:
    payload = RevokeSessions.model_validate(
        {"user_id": "u1", "issued_before": "2026-01-01T02:00:00+02:00"}
    )
    assert payload.issued_before == datetime(2026, 1, 1, tzinfo=UTC)
    assert RevokeSessions(user_id="u1").issued_before is None
    with pytest.raises(ValidationError) as caught:
        RevokeSessions.model_validate({"user_id": "u1", "issued_before": datetime(2026, 1, 1)})
    assert fields_of(caught.value) == {"issued_before"}


def test_revoke_result_is_a_non_negative_integer() -> None:
    assert RevokeSessionsResult(revoked=3).revoked == 3
    for bad in (-1, 2.5, "3", True):
        with pytest.raises(ValidationError):
            RevokeSessionsResult.model_validate({"revoked": bad})


def link(**fields: Any) -> CreateReleaseLink:
    data: dict[str, Any] = {
        "bundle_id": "b1",
        "recipient_id": "r1",
        "ttl_seconds": 60,
        "content_hash": HASH,
    }
    data.update(fields)
    return CreateReleaseLink.model_validate(data)


def test_release_link_ttl_is_bounded_and_integral() -> None:
    assert link(ttl_seconds=TTL_MAX_SECONDS).ttl_seconds == TTL_MAX_SECONDS
    for bad in (59, TTL_MAX_SECONDS + 1, 3600.0, "3600", True):
        with pytest.raises(ValidationError) as caught:
            link(ttl_seconds=bad)
        assert fields_of(caught.value) == {"ttl_seconds"}


@pytest.mark.parametrize(
    "content_hash", ["0f" * 32, "sha256:" + "0F" * 32, "sha256:" + "0f" * 31, "md5:" + "0" * 32]
)
def test_content_hash_must_be_prefixed_lower_case_sha256(content_hash: str) -> None:
    with pytest.raises(ValidationError, match="sha256"):
        link(content_hash=content_hash)


@pytest.mark.parametrize("key", ["a", "reports/2026/q1.pdf", "a-b_c/d.e.f", "x/y..z"])
def test_head_object_accepts_relative_keys(key: str) -> None:
    assert HeadObject(bundle_id="b1", object_key=key).object_key == key


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", ".env", "x/..y", "a\\b", "a b"],
)
def test_head_object_refuses_unsafe_keys(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HeadObject(bundle_id="b1", object_key=key)
    assert fields_of(caught.value) == {"object_key"}


def test_storage_results_validate_their_fields() -> None:
    result = ReleaseLink(
        link_id="l1",
        url="https://files.example.com/l1",
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        content_hash=HASH,
    )
    assert result.model_dump(mode="json")["expires_at"] == "2026-01-01T00:00:00Z"
    with pytest.raises(ValidationError) as caught:
        ReleaseLink.model_validate({**result.model_dump(), "url": "javascript:alert(1)"})
    assert fields_of(caught.value) == {"url"}
    head = ObjectHead(etag='"abc"', content_type="application/pdf", length=0)
    assert head.length == 0
    with pytest.raises(ValidationError) as caught:
        ObjectHead(etag="x", content_type="text/plain", length=-1)
    assert fields_of(caught.value) == {"length"}
