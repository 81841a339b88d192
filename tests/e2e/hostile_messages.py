"""Hypothesis strategies for hostile broker messages (docs/wire-format.md section 8.2).

Each example is a :class:`Hostile`: the raw text LPUSHed on a queue, the
command id its audit rows carry (None when there is none), the task id of a
message refused before its envelope could be read (audited under that task
id, without a command id), and the error codes the worker may answer with.
Built only with json/base64/hmac (via ``test_raw_protocol``'s helpers),
never with Celery, so the worker sees exactly these bytes.
"""

from __future__ import annotations

import json
import pickle
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from capgate.contracts.envelope import MAX_ENVELOPE_BYTES
from tests.e2e.test_raw_protocol import EMPTY_EMBED, QUEUE, command_body, message, signed_envelope
from tests.support.world import Plugin

TASK = "capgate.users.revoke_sessions"
FIELDS = (
    "format_version", "command_id", "operation", "payload", "context",
    "issued_at", "expires_at", "key_id", "idempotency_key", "signature",
)  # fmt: skip
ENVELOPE_CODES = frozenset(
    {"invalid_envelope", "bad_signature", "malformed_json", "unknown_key", "envelope_too_large"}
)
"""What a damaged envelope is refused with, depending on which part is damaged."""
HUGE_SIZES = (200_000, 4 * 1024 * 1024 + 10)
"""A large payload under the 4 MiB limit, and an envelope just over it."""
MAX_DEPTH = 200_000
"""The deepest nesting drawn."""


@dataclass(frozen=True)
class Hostile:
    """One hostile message and what the worker may do with it."""

    kind: str
    raw: str
    command_id: str | None  # None: its audit rows (if any) carry no command id
    codes: frozenset[str]
    unread_task_id: str | None = None
    """Refused unread (too large, too deep): one row with this task id, no command id."""


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value, small."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=max_leaves,
    )


def _pushable(envelope_text: str, command_id: str, embed: dict[str, Any] | None = None) -> str:
    body = json.dumps([[envelope_text], {}, embed or EMPTY_EMBED]).encode("utf-8")
    return message(TASK, command_id, body)


def _json_type(value: Any) -> str:
    """The JSON type of a decoded value (``True`` is a boolean, not the integer 1)."""
    if isinstance(value, bool):
        return "boolean"
    names = {int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names[type(value)]


def _envelope(kind: str, envelope: dict[str, Any], codes: frozenset[str]) -> Hostile:
    """``envelope`` as JSON text on the task's queue, refused with one of ``codes``.

    A text that is not strict JSON (``json_values`` may hold an infinite
    float, which ``json.dumps`` writes as ``Infinity``) is refused unread,
    with ``malformed_json`` and no command id.
    """
    cid = envelope["command_id"]
    raw = _pushable(json.dumps(envelope), cid)
    try:
        json.dumps(envelope, allow_nan=False)
    except ValueError:
        return Hostile(kind, raw, None, frozenset({"malformed_json"}), unread_task_id=cid)
    return Hostile(kind, raw, cid, codes)


def _signed(plugin: Plugin, payload: Any) -> dict[str, Any]:
    return signed_envelope(plugin, "users.revoke_sessions", payload)


@st.composite
def wrong_type(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """A signed envelope with one field replaced afterwards by a value of another type."""
    envelope = _signed(plugin, {"user_id": "u-bob"})
    field = draw(st.sampled_from([f for f in FIELDS if f != "command_id"]))
    # Another JSON type than the field's own, and never a string: the integer
    # 1 as format_version would be the signed envelope itself, and succeed.
    kept = {_json_type(envelope[field]), "string"}
    envelope[field] = draw(json_values().filter(lambda v: _json_type(v) not in kept))
    return _envelope(f"wrong_type:{field}", envelope, ENVELOPE_CODES)


@st.composite
def bad_payload(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """A correctly signed envelope whose payload does not fit the operation."""
    payload = draw(st.dictionaries(st.text(max_size=8), json_values(), max_size=4))
    envelope = _signed(plugin, payload)
    codes = frozenset({"invalid_payload", "invalid_envelope", "user_not_found"})
    return _envelope("bad_payload", envelope, codes)


@st.composite
def huge(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """An envelope over the size limit (4 MiB), or a large signed payload under it."""
    return _huge(plugin, draw(st.sampled_from(HUGE_SIZES)))


def _huge(plugin: Plugin, size: int) -> Hostile:
    envelope = _signed(plugin, {"user_id": "u-bob", "junk": "x" * size})
    cid = envelope["command_id"]
    raw = _pushable(json.dumps(envelope), cid)
    if size > MAX_ENVELOPE_BYTES:
        # Refused before it is parsed: nothing in it can be believed, not even its id.
        codes = frozenset({"envelope_too_large"})
        return Hostile(f"huge:{size}", raw, None, codes, unread_task_id=cid)
    return Hostile(f"huge:{size}", raw, cid, frozenset({"invalid_payload"}))


def _nested_envelope(plugin: Plugin, depth: int) -> Hostile:
    cid = str(uuid.uuid4())
    text = json.dumps(_signed(plugin, {"user_id": "u-bob"}) | {"command_id": cid})
    text = text[:-1] + f', "deep": {"[" * depth + "]" * depth}}}'
    # Deeper than the JSON parser goes: refused unread, like a too large one.
    codes = frozenset({"malformed_json"})
    return Hostile("nested:envelope", _pushable(text, cid), None, codes, unread_task_id=cid)


def biggest(plugin: Plugin) -> list[Hostile]:
    """The biggest messages the batches may hold, one of each (to warm a worker up)."""
    return [*(_huge(plugin, size) for size in HUGE_SIZES), _nested_envelope(plugin, MAX_DEPTH)]


@st.composite
def deeply_nested(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """Nesting thousands deep, in the envelope text or in the Celery body itself."""
    # Depth 500-1000 in the Celery body kills the worker (docs/reliability.md, known bugs):
    # tested on its own in test_reliability_hostile.py, not in the batches.
    depth = draw(st.integers(min_value=3000, max_value=MAX_DEPTH))
    if draw(st.booleans()):
        return _nested_envelope(plugin, depth)
    deep = "[" * depth + "]" * depth
    body = f"[[{deep}], {{}}, {json.dumps(EMPTY_EMBED)}]".encode()
    return Hostile("nested:body", message(TASK, str(uuid.uuid4()), body), None, frozenset())


@st.composite
def invalid_utf8(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """Bytes that are not UTF-8 in a body declared UTF-8 JSON, or lone surrogates."""
    envelope = _signed(plugin, {"user_id": "u-bob"})
    cid = envelope["command_id"]
    if draw(st.booleans()):
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        body = json.dumps([[json.dumps(envelope)], {}, EMPTY_EMBED]).encode()
        body = body.replace(b"u-bob", b"u-" + junk, 1)
        return Hostile("utf8:bytes", message(TASK, cid, body), None, frozenset())
    text = json.dumps(envelope).replace("u-bob", "u-\\udcff", 1)  # JSON escape of a surrogate
    return Hostile("utf8:surrogate", _pushable(text, cid), cid, ENVELOPE_CODES)


@st.composite
def unknown_operation(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """A signed envelope naming an operation that does not exist, on a real task."""
    operation = draw(st.sampled_from(["users.nope", "email.send", "x", "users.revoke_sessions."]))
    envelope = signed_envelope(plugin, operation, {"user_id": "u-bob"})
    cid = envelope["command_id"]
    codes = frozenset({"invalid_envelope", "operation_mismatch", "unknown_operation"})
    return Hostile("unknown_operation", _pushable(json.dumps(envelope), cid), cid, codes)


@st.composite
def missing_field(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """An envelope missing one field (re-signed without it where possible)."""
    envelope = _signed(plugin, {"user_id": "u-bob"})
    field = draw(st.sampled_from([f for f in FIELDS if f != "command_id"]))
    del envelope[field]
    cid = envelope["command_id"]
    return Hostile(f"missing:{field}", _pushable(json.dumps(envelope), cid), cid, ENVELOPE_CODES)


@st.composite
def content_type(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """A body in another serialisation: pickle, YAML, msgpack, plain text."""
    kind = draw(st.sampled_from(["application/x-python-serialize", "application/x-yaml",
                                 "application/x-msgpack", "text/plain"]))  # fmt: skip
    cid = str(uuid.uuid4())
    body = pickle.dumps(["args"]) if "python" in kind else b"!!python/object:os.system [id]"
    return Hostile(
        f"content:{kind}", message(TASK, cid, body, content_type=kind), None, frozenset()
    )


@st.composite
def unknown_task(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """A valid command sent as a task the worker does not have."""
    task = draw(
        st.sampled_from(["celery.group", "celery.chord_unlock", "capgate.nope"]) | st.text()
    )
    envelope = _signed(plugin, {"user_id": "u-bob"})
    cid = envelope["command_id"]
    body = command_body(envelope)
    return Hostile("unknown_task", message(task, cid, body), None, frozenset())


@st.composite
def callbacks(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """A valid command carrying callbacks, errbacks, a chain or a chord."""
    field = draw(st.sampled_from(["callbacks", "errbacks", "chain", "chord"]))
    step = {"task": "capgate.users.deactivate", "args": [], "kwargs": {}, "options": {},
            "subtask_type": None, "immutable": True}  # fmt: skip
    embed = EMPTY_EMBED | {field: step if field == "chord" else [step]}
    envelope = _signed(plugin, {"user_id": "u-bob"})
    cid = envelope["command_id"]
    codes = frozenset({"workflow_not_allowed"})
    return Hostile(f"workflow:{field}", _pushable(json.dumps(envelope), cid, embed), cid, codes)


@st.composite
def odd_arguments(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """The right task with arguments of the wrong shape (object, several, keyword)."""
    envelope = _signed(plugin, {"user_id": "u-bob"})
    cid = envelope["command_id"]
    text = json.dumps(envelope)
    args, kwargs = draw(
        st.sampled_from([([envelope], {}), ([text, text], {}), ([text], {"x": 1}), ([], {})])
    )
    body = json.dumps([args, kwargs, EMPTY_EMBED]).encode()
    # Refused unread (the argument is not the envelope text): a row, no command id.
    codes = frozenset({"envelope_not_text"})
    return Hostile("odd_arguments", message(TASK, cid, body), None, codes, unread_task_id=cid)


@st.composite
def not_a_message(draw: st.DrawFn, plugin: Plugin) -> Hostile:
    """Something in the queue that is not a Kombu message at all (kills the worker: a bug)."""
    raw = draw(st.sampled_from(["", "{", "null", "[]", '{"body": 1}', "\x00\xff"]) | st.text())
    return Hostile("not_a_message", raw, None, frozenset())


def hostile(plugin: Plugin) -> st.SearchStrategy[Hostile]:
    """Every kind of hostile message for ``plugin``'s queue."""
    kinds = (wrong_type, bad_payload, huge, deeply_nested, invalid_utf8, unknown_operation,
             missing_field, content_type, unknown_task, callbacks, odd_arguments)  # fmt: skip
    return st.one_of(*(kind(plugin) for kind in kinds))


__all__ = ["QUEUE", "Hostile", "biggest", "hostile", "not_a_message"]
