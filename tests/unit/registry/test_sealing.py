"""Signing-key secrets are sealed with the server secret and bound to their key id."""

from __future__ import annotations

import pytest

from capgate.registry.sealing import KeySealer, UnsealError, new_key_secret


def test_a_sealed_secret_opens_with_the_same_server_secret() -> None:
    secret = new_key_secret()
    sealed = KeySealer("server-secret").seal("key-1", secret)
    assert secret not in sealed
    assert KeySealer("server-secret").open("key-1", sealed) == secret


def test_sealing_twice_gives_different_text() -> None:
    sealer = KeySealer("server-secret")
    assert sealer.seal("key-1", "s") != sealer.seal("key-1", "s")


def test_another_server_secret_cannot_open_it() -> None:
    sealed = KeySealer("server-secret").seal("key-1", "s")
    with pytest.raises(UnsealError):
        KeySealer("another-secret").open("key-1", sealed)


def test_a_sealed_secret_moved_to_another_key_does_not_open() -> None:
    sealed = KeySealer("server-secret").seal("key-1", "s")
    with pytest.raises(UnsealError):
        KeySealer("server-secret").open("key-2", sealed)


@pytest.mark.parametrize("sealed", ["", "v2.abc", "v1.", "v1.!!!not-base64", "v1.AAAA"])
def test_garbage_does_not_open(sealed: str) -> None:
    with pytest.raises(UnsealError):
        KeySealer("server-secret").open("key-1", sealed)


def test_new_secrets_are_long_and_distinct() -> None:
    first, second = new_key_secret(), new_key_secret()
    assert len(first) >= 43 and first != second
