"""Redaction: the one place that decides what of a request may reach an audit row.

Rules (``docs/audit.md`` explains them):

* bodies, attachment content and anything under a secret-looking key
  (password, secret, token, authorization, api_key, ...) never pass: bodies
  become ``{"length": n}``, attachments ``{"size": n, "sha256": ...}``,
  secrets ``"[redacted]"``;
* URLs (release links carry their signature in the query) become
  ``"url:sha256=<hex>"``; a ``url``/``link`` key keeps the link's hash only;
* e-mail addresses keep their domain only (``"***@example.com"``); recipient
  lists become counts per field and the sorted list of distinct domains;
* values that look like credentials (``Bearer ...``, JWTs, PEM keys, known
  token prefixes) are replaced wherever they appear, keys or not;
* sizes are bounded: strings, lists, keys and depth.

:func:`scrub` is idempotent, so the recorder runs it on every summary even
when the caller already summarised.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import string
from typing import Any

__all__ = [
    "REDACTED",
    "mask_text",
    "sanitize_error",
    "scrub",
    "summarize_request",
    "summarize_response",
]

REDACTED = "[redacted]"
MAX_STRING = 256
MAX_ITEMS = 50
MAX_DEPTH = 6
MAX_ERROR = 500

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?$|secret|token|authori[sz]ation|api[_-]?key|private[_-]?key"
    r"|credential|cookie|signature|^key$|^auth$|_auth$|session[_-]?key|otp$",
    re.IGNORECASE,
)
_BODY_KEYS = frozenset(
    {"body", "text", "html", "content", "content_base64", "data", "raw", "mime", "message"}
)
_URL_KEYS = frozenset({"url", "link", "href", "release_link", "download_url", "uri"})
_RECIPIENT_KEYS = ("to", "cc", "bcc", "reply_to")

# Text reaching mask_text is hostile and may be megabytes long, so every pattern
# must run in linear time. A pattern whose match is a long run of characters
# that a failed attempt rescans from every later start would be quadratic
# (``"x" * 200_000`` took 27 s against the e-mail pattern): JSON Web Tokens,
# URLs and e-mail addresses are therefore found from the character that ends
# their run (``.``, ``://``, ``@``) by the functions below, which replace
# exactly what the patterns in the comments would.
_CREDENTIAL = re.compile(
    r"(?i:\b(bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|\b(sk_live_|sk_test_|ghp_|gho_|github_pat_|xox[abpr]-|AKIA|ya29\.)[A-Za-z0-9_\-.]{6,}"
)
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\b(\s*[=:]\s*)\S+"
)
# JWT: \beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*
_JWT_START = re.compile(r"\beyJ")
_B64URL_RUN = re.compile(r"[A-Za-z0-9_-]*")
# URL: \b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+
_URL_TAIL = re.compile(r"://[^\s\"'<>]+")
_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+.-")
_WORD = re.compile(r"\w")
# E-mail: [A-Za-z0-9._%+\-']+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)
_EMAIL_DOMAIN = re.compile(r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-'")


def _sha256(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def _run_end(text: str, pos: int) -> int:
    """End of the base64url run starting at ``pos``."""
    run = _B64URL_RUN.match(text, pos)
    assert run is not None  # the pattern matches the empty string
    return run.end()


def _jwt_end(text: str, first: int) -> tuple[int, int | None]:
    """(end of the first segment, end of the token or None if it is no token)."""
    end1 = _run_end(text, first)
    if end1 - first < 5 or text[end1 : end1 + 1] != ".":
        return end1, None
    end2 = _run_end(text, end1 + 1)
    if end2 - end1 - 1 < 5 or text[end2 : end2 + 1] != ".":
        return end1, None
    return end1, _run_end(text, end2 + 1)


def _mask_jwts(text: str) -> str:
    """Replace JSON Web Tokens (three base64url segments, the first ``eyJ...``)."""
    parts: list[str] = []
    done = pos = 0
    while (start := _JWT_START.search(text, pos)) is not None:
        end1, end = _jwt_end(text, start.end())
        if end is None:
            # Every later "eyJ" inside the same run fails the same way: skip it.
            pos = max(end1, start.end())
            continue
        parts += (text[done : start.start()], REDACTED)
        done = pos = end
    parts.append(text[done:])
    return "".join(parts)


def _scheme_start(text: str, colon: int, floor: int) -> int | None:
    """Where the URL scheme ending at ``colon`` starts (a letter after a word boundary)."""
    start = colon
    while start > floor and text[start - 1] in _SCHEME_CHARS:
        start -= 1
    for index in range(start, colon):
        if text[index] in string.ascii_letters and (
            index == 0 or _WORD.match(text, index - 1) is None
        ):
            return index
    return None


def _mask_urls(text: str) -> str:
    """Replace each URL by ``url:sha256=`` and its hash."""
    parts: list[str] = []
    done = 0
    colon = text.find("://")
    while colon != -1:
        # The scheme first: matching the tail first would rescan it for each
        # "://" inside it ("://" * 100_000).
        start = _scheme_start(text, colon, done)
        tail = _URL_TAIL.match(text, colon) if start is not None else None
        if start is None or tail is None:
            colon = text.find("://", colon + 1)
            continue
        parts += (text[done:start], "url:sha256=" + _sha256(text[start : tail.end()]))
        done = tail.end()
        colon = text.find("://", done)
    parts.append(text[done:])
    return "".join(parts)


def _mask_emails(text: str) -> str:
    """Keep only the (lower-cased) domain of each e-mail address: ``***@example.com``."""
    parts: list[str] = []
    done = 0
    for match in _EMAIL_DOMAIN.finditer(text):
        start = match.start()
        while start > done and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        if start < match.start():  # a local part of one character or more
            parts += (text[done:start], "***@", match.group(1).lower())
            done = match.end()
    parts.append(text[done:])
    return "".join(parts)


def mask_text(text: str) -> str:
    """Replace credentials, URLs and e-mail local parts inside free text (linear time)."""
    text = _CREDENTIAL.sub(REDACTED, text)
    text = _mask_jwts(text)
    text = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _mask_urls(text)
    return _mask_emails(text)


def _bounded(text: str, limit: int) -> str:
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= limit else f"{text[:limit]}...(+{len(text) - limit} chars)"


def _body(value: Any) -> Any:
    if isinstance(value, dict) and set(value) <= {"length", "size", "sha256"}:
        return value  # already summarised
    if isinstance(value, str):
        return {"length": len(value)}
    if isinstance(value, bytes):
        return {"size": len(value), "sha256": _sha256(value)}
    return REDACTED


def _url(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.startswith("url:sha256=") else "url:sha256=" + _sha256(value)
    return REDACTED


def _scrub_key(key: str, value: Any, depth: int) -> Any:
    lowered = key.lower()
    if _SECRET_KEY.search(lowered) and not lowered.endswith(("_id", "_count")):
        return REDACTED if value not in (None, "", REDACTED) else value
    if lowered in _BODY_KEYS:
        return _body(value)
    if lowered in _URL_KEYS:
        return _url(value)
    return scrub(value, _depth=depth + 1)


def scrub(value: Any, *, _depth: int = 0) -> Any:
    """A JSON-safe, redacted, bounded copy of ``value`` (any shape)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _bounded(mask_text(value), MAX_STRING)
    if isinstance(value, bytes | bytearray):
        return {"size": len(value), "sha256": _sha256(bytes(value))}
    if _depth >= MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, dict):
        items = list(value.items())
        out = {
            _bounded(mask_text(str(k)), 64): _scrub_key(str(k), v, _depth)
            for k, v in items[:MAX_ITEMS]
        }
        if len(items) > MAX_ITEMS:
            out["_omitted_keys"] = len(items) - MAX_ITEMS
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        kept = [scrub(item, _depth=_depth + 1) for item in seq[:MAX_ITEMS]]
        if len(seq) > MAX_ITEMS:
            kept.append(f"[+{len(seq) - MAX_ITEMS} more]")
        return kept
    return _bounded(mask_text(type(value).__name__), 64)


def sanitize_error(message: str | None) -> str | None:
    """An error message safe for a row: first line, secrets masked, bounded length.

    Only the first line is kept because servers echo message bodies and
    headers on the lines that follow.
    """
    if message is None:
        return None
    first = message.strip().splitlines()[0] if message.strip() else ""
    return _bounded(mask_text(first), MAX_ERROR)


def _addresses(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value] if value else []
    found: list[str] = []
    for item in items:
        text = item.get("email", item.get("address", "")) if isinstance(item, dict) else item
        if isinstance(text, str):
            found.append(text)
    return found


def _email_request(payload: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    domains: set[str] = set()
    for field in _RECIPIENT_KEYS:
        addresses = _addresses(payload.get(field))
        if addresses or field in payload:
            summary[f"{field}_count"] = len(addresses)
        domains.update(a.rsplit("@", 1)[1].lower() for a in addresses if "@" in a)
    summary["recipient_domains"] = sorted(domains)[:MAX_ITEMS]
    for field in ("subject", "text", "html"):
        if isinstance(payload.get(field), str):
            summary[f"{field}_length"] = len(payload[field])
    attachments = payload.get("attachments") or []
    summary["attachments"] = [scrub(_attachment(a)) for a in attachments[:MAX_ITEMS]]
    if isinstance(payload.get("headers"), dict):
        summary["header_names"] = sorted(str(k) for k in payload["headers"])[:MAX_ITEMS]
    rest = {k: v for k, v in payload.items() if k not in _EMAIL_HANDLED}
    summary.update(scrub(rest))
    return summary


_EMAIL_HANDLED = frozenset({*_RECIPIENT_KEYS, "subject", "text", "html", "attachments", "headers"})


def _attachment(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"content": _body(item)}
    content = item.get("content_base64", item.get("content", b""))
    if isinstance(content, str):
        text = content
        try:  # hash the file itself, so the digest matches the attached file's
            content = base64.b64decode(text, validate=True)
        except binascii.Error:
            content = text.encode("utf-8")
    summary: dict[str, Any] = {"content_type": item.get("content_type")}
    if isinstance(content, bytes):
        summary.update(size=len(content), sha256=_sha256(content))
    return summary


def summarize_request(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What an audit row keeps of a command's payload: ids, counts, sizes and hashes."""
    if operation.startswith("email.") and any(k in payload for k in _RECIPIENT_KEYS):
        return _email_request(payload)
    result = scrub(payload)
    return result if isinstance(result, dict) else {"value": result}


def summarize_response(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """What an audit row keeps of an adapter's result (a release link by id and SHA-256)."""
    result = scrub(response)
    return result if isinstance(result, dict) else {"value": result}
