"""Release links (sign, verify, refuse) and object heads from the filesystem store."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from capgate.adapters.object_store import FS_EXCEPTIONS, FilesystemObjectStore
from capgate.adapters.release_links import release_link_key, verify_release_link
from capgate.adapters.resource_tables import BundleAssignment
from capgate.adapters.seed import seed_demo_data
from capgate.adapters.storage import StorageHandlers
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.storage import CreateReleaseLink, HeadObject
from tests.support.adapters import NOW, SECRET, invocation, open_session

HASH = "sha256:" + "ab" * 32
KEY = release_link_key(SECRET)


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    for s in open_session(migrated_engine):
        seed_demo_data(s)
        yield s


@pytest.fixture
def storage(tmp_path: Path) -> StorageHandlers:
    (tmp_path / "b-q1-report").mkdir()
    (tmp_path / "b-q1-report" / "report.pdf").write_bytes(b"%PDF-1.7 content")
    return StorageHandlers(
        store=FilesystemObjectStore(tmp_path), link_key=KEY, link_base_url="https://core/dl"
    )


def create(storage: StorageHandlers, session: Session, **fields: object) -> dict[str, object]:
    values = {"bundle_id": "b-q1-report", "recipient_id": "r-acme", "ttl_seconds": 3600}
    values.update(fields)
    payload = CreateReleaseLink.model_validate({**values, "content_hash": HASH})
    inv = invocation(session, "storage.create_release_link", payload)
    return storage.create_release_link(inv).response


def token_of(link: dict[str, object]) -> str:
    return parse_qs(urlsplit(str(link["url"])).query)["token"][0]


def verify(token: str, **overrides: object) -> object:
    args: dict[str, object] = {
        "key": KEY, "bundle_id": "b-q1-report", "recipient_id": "r-acme", "now": NOW,
    }  # fmt: skip
    args.update(overrides)
    return verify_release_link(token, **args)  # type: ignore[arg-type]


def refusal(token: str, **overrides: object) -> str:
    with pytest.raises(PluginServiceError) as error:
        verify(token, **overrides)
    assert error.value.kind is ErrorKind.PERMISSION
    return error.value.code


def test_a_link_verifies_for_its_bundle_and_recipient(storage, session) -> None:
    link = create(storage, session)
    assert link["expires_at"] == "2026-03-01T13:00:00Z"
    claims = verify(token_of(link), content_hash=HASH)
    assert claims.link_id == link["link_id"]  # type: ignore[attr-defined]


def test_the_link_id_is_the_same_for_every_attempt(storage, session) -> None:
    assert create(storage, session)["link_id"] == create(storage, session)["link_id"]


def test_verification_refuses_bad_links(storage, session) -> None:
    token = token_of(create(storage, session))
    claims_part, signature = token.split(".")
    assert refusal(token, recipient_id="r-globex") == "release_link_wrong_recipient"
    assert refusal(token, bundle_id="b-onboarding") == "release_link_wrong_bundle"
    assert refusal(token, now=NOW + timedelta(hours=1)) == "release_link_expired"
    assert refusal(token, content_hash="sha256:" + "00" * 32) == "release_link_content_changed"
    assert refusal(token, key=release_link_key("another secret")) == "release_link_tampered"
    forged = claims_part[:-2] + ("AA" if claims_part[-2:] != "AA" else "BB")
    assert refusal(f"{forged}.{signature}") == "release_link_tampered"
    assert refusal("not-a-token") == "release_link_tampered"
    assert refusal(f"{claims_part}.%%%") == "release_link_tampered"


def test_a_configured_storage_key_replaces_the_derived_one() -> None:
    assert release_link_key(SECRET, "storage-key") == b"storage-key"
    assert release_link_key(SECRET) != release_link_key("other secret")


@pytest.mark.parametrize(
    ("fields", "kind", "code"),
    [
        ({"bundle_id": "b-none"}, ErrorKind.NOT_FOUND, "bundle_not_found"),
        ({"recipient_id": "r-none"}, ErrorKind.NOT_FOUND, "recipient_not_found"),
        ({"recipient_id": "r-globex"}, ErrorKind.PERMISSION, "recipient_not_assigned"),
    ],
)
def test_links_need_a_real_assignment(storage, session, fields, kind, code) -> None:
    with pytest.raises(PluginServiceError) as error:
        create(storage, session, **fields)
    assert (error.value.kind, error.value.code) == (kind, code)


def test_a_disabled_assignment_gives_no_link(storage, session) -> None:
    session.get(BundleAssignment, "a-q1-acme").enabled = False  # type: ignore[union-attr]
    with pytest.raises(PluginServiceError) as error:
        create(storage, session)
    assert error.value.code == "recipient_not_assigned"


def head(storage: StorageHandlers, session: Session, bundle: str, key: str) -> dict[str, object]:
    payload = HeadObject(bundle_id=bundle, object_key=key)
    return storage.head_object(invocation(session, "storage.head_object", payload)).response


def test_head_object_reads_etag_type_and_length(storage, session) -> None:
    digest = hashlib.sha256(b"%PDF-1.7 content").hexdigest()
    assert head(storage, session, "b-q1-report", "report.pdf") == {
        "etag": f'"{digest}"', "content_type": "application/pdf", "length": 16,
    }  # fmt: skip


def test_head_of_an_unknown_bundle_or_object_is_not_found(storage, session) -> None:
    for bundle, key, code in [
        ("b-none", "report.pdf", "bundle_not_found"),
        ("b-q1-report", "missing.pdf", "object_not_found"),
        ("b-onboarding", "report.pdf", "object_not_found"),
    ]:
        with pytest.raises(PluginServiceError) as error:
            head(storage, session, bundle, key)
        assert (error.value.kind, error.value.code) == (ErrorKind.NOT_FOUND, code)


def test_a_symlink_out_of_the_bundle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "b1").mkdir()
    (tmp_path / "b1" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(PluginServiceError) as error:
        FilesystemObjectStore(tmp_path).head("b1", "escape.txt")
    assert (error.value.kind, error.value.code) == (
        ErrorKind.VALIDATION,
        "object_key_outside_bundle",
    )


FS_EXAMPLES: dict[type[OSError], OSError] = {
    FileNotFoundError: FileNotFoundError(errno.ENOENT, "No such file"),
    NotADirectoryError: NotADirectoryError(errno.ENOTDIR, "Not a directory"),
    IsADirectoryError: IsADirectoryError(errno.EISDIR, "Is a directory"),
    PermissionError: PermissionError(errno.EACCES, "Permission denied"),
    OSError: OSError(errno.EIO, "Input/output error"),
}


@pytest.mark.parametrize(("exc_type", "kind", "code"), FS_EXCEPTIONS, ids=lambda v: str(v))
def test_each_filesystem_error_row(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, exc_type: type[OSError], kind, code
) -> None:
    (tmp_path / "b1").mkdir()
    (tmp_path / "b1" / "f.txt").write_text("x")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise FS_EXAMPLES[exc_type]

    monkeypatch.setattr(Path, "open", broken)
    with pytest.raises(PluginServiceError) as error:
        FilesystemObjectStore(tmp_path).head("b1", "f.txt")
    assert (error.value.kind, error.value.code) == (kind, code)
