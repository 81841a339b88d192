"""The object store port and its default: bundle objects in a folder on disk.

``FilesystemObjectStore(root)`` keeps an object at ``root/<bundle id>/<key>``.
Its error table, :data:`FS_EXCEPTIONS` (tested row by row):

* ``FileNotFoundError``, ``NotADirectoryError``, ``IsADirectoryError``:
  NOT_FOUND ``object_not_found``;
* ``PermissionError``: FATAL ``object_store_forbidden``;
* any other ``OSError``: RETRYABLE ``object_store_unavailable``;
* a key that resolves outside its bundle (a symlink): VALIDATION
  ``object_key_outside_bundle``.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from typing import Protocol

from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.storage import ObjectHead

__all__ = ["FS_EXCEPTIONS", "FilesystemObjectStore", "ObjectStore"]

FS_EXCEPTIONS: tuple[tuple[type[OSError], ErrorKind, str], ...] = (
    (FileNotFoundError, ErrorKind.NOT_FOUND, "object_not_found"),
    (NotADirectoryError, ErrorKind.NOT_FOUND, "object_not_found"),
    (IsADirectoryError, ErrorKind.NOT_FOUND, "object_not_found"),
    (PermissionError, ErrorKind.FATAL, "object_store_forbidden"),
    (OSError, ErrorKind.RETRYABLE, "object_store_unavailable"),
)

_CHUNK = 1024 * 1024


class ObjectStore(Protocol):
    """The port: an object's metadata, without its content."""

    def head(self, bundle_id: str, object_key: str) -> ObjectHead:
        """Etag, content type and length of one object, or PluginServiceError."""
        ...


class FilesystemObjectStore:
    """Objects as files under ``root``; the etag is the quoted SHA-256 of the content."""

    def __init__(self, root: Path) -> None:
        """``root`` holds one folder per bundle."""
        self._root = root

    def __repr__(self) -> str:
        return f"FilesystemObjectStore({str(self._root)!r})"

    def head(self, bundle_id: str, object_key: str) -> ObjectHead:
        """Read the object's head; see the module's error table."""
        try:
            bundle = (self._root / bundle_id).resolve(strict=True)
            path = (bundle / object_key).resolve(strict=True)
            if not path.is_relative_to(bundle):
                raise PluginServiceError.validation(
                    "object_key_outside_bundle", "the object key leaves the bundle's folder"
                )
            digest = hashlib.sha256()
            with path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
            length = path.stat().st_size
        except OSError as exc:
            raise _translate(exc) from exc
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return ObjectHead(etag=f'"{digest.hexdigest()}"', content_type=content_type, length=length)


def _translate(exc: OSError) -> PluginServiceError:
    for exc_type, kind, code in FS_EXCEPTIONS:
        if isinstance(exc, exc_type):
            return PluginServiceError(kind, code, f"object store: {exc.strerror or 'error'}")
    raise AssertionError("unreachable: OSError is the last row")
