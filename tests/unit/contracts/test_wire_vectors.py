"""docs/wire-format.md and docs/wire-vectors.json agree with the implementation.

The document's fenced blocks are parsed (``vector=N part=...``), so the
vectors a reader sees are exactly the ones checked here.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from capgate.contracts.canonical import loads_strict
from capgate.contracts.catalog import validate_payload
from capgate.contracts.envelope import (
    CommandEnvelope,
    compute_signature,
    signing_input,
    verify_signature,
)

DOCS = Path(__file__).resolve().parents[3] / "docs"
BLOCK = re.compile(r"^```\w+ vector=(\d+) part=(\w+)\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def doc_vectors() -> dict[int, dict[str, str]]:
    vectors: dict[int, dict[str, str]] = {}
    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    for number, part, body in BLOCK.findall(text):
        vectors.setdefault(int(number), {})[part] = body
    return vectors


def file_vectors() -> list[dict[str, Any]]:
    document: dict[str, Any] = loads_strict((DOCS / "wire-vectors.json").read_bytes())
    vectors: list[dict[str, Any]] = document["vectors"]
    return vectors


def test_the_document_has_at_least_three_complete_vectors() -> None:
    vectors = doc_vectors()
    assert len(vectors) >= 3
    assert all(
        set(parts) == {"key", "envelope", "canonical", "signature"} for parts in vectors.values()
    )


def test_document_and_json_file_hold_the_same_vectors() -> None:
    from_doc = doc_vectors()
    from_file = file_vectors()
    assert len(from_doc) == len(from_file)
    for number, vector in enumerate(from_file, start=1):
        parts = from_doc[number]
        assert parts["key"] == vector["key_secret"]
        assert loads_strict(parts["envelope"]) == vector["envelope"]
        assert parts["canonical"] == vector["canonical"]
        assert parts["signature"] == vector["signature"]


@pytest.mark.parametrize("vector", file_vectors(), ids=lambda v: str(v["name"]))
def test_vector_matches_our_canonical_form_and_signature(vector: dict[str, Any]) -> None:
    envelope = vector["envelope"]
    canonical = signing_input(envelope)
    assert canonical == vector["canonical"].encode("utf-8")
    assert len(canonical) == vector["canonical_length"]
    assert hashlib.sha256(canonical).hexdigest() == vector["canonical_sha256"]
    assert compute_signature(envelope, vector["key_secret"]) == vector["signature"]
    assert verify_signature(envelope, vector["key_secret"])
    # Each vector is a command the worker would accept, not just bytes.
    model = CommandEnvelope.model_validate(envelope)
    validate_payload(model.operation, model.payload)


def test_vectors_cover_non_ascii_text_and_escapes() -> None:
    canonicals = [vector["canonical"] for vector in file_vectors()]
    assert any(not text.isascii() for text in canonicals)
    assert any("\\u0000" in text and "\\n" in text and '\\"' in text for text in canonicals)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_documented_javascript_check_agrees() -> None:
    text = (DOCS / "wire-format.md").read_text(encoding="utf-8")
    match = re.search(r"^```js reference-check\n(.*?)\n```$", text, re.MULTILINE | re.DOTALL)
    assert match is not None
    run = subprocess.run(
        ["node", "-e", match.group(1), str(DOCS / "wire-vectors.json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": ok") == len(file_vectors())
