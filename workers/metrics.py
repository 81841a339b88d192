"""The worker's Prometheus metrics and how one audited attempt moves them.

Every attempt writes one audit row; :func:`count` turns a committed row into
metric updates, so the numbers agree with the audit trail. Labels are the
operation (only catalogued names; anything else is ``unknown``, so a
malformed message cannot add a time series) and the outcome.

prometheus_client is used because its text format is what Prometheus and
Flower's own ``/metrics`` speak, and its multiprocess mode lets a prefork
worker's pool processes count while the main process serves the page.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from capgate.audit.events import AuditEvent, Outcome
from capgate.contracts.catalog import CATALOG

__all__ = [
    "ATTEMPTS",
    "AUDIT_WRITE_ERRORS",
    "AUDIT_WRITE_SECONDS",
    "COMMANDS",
    "COMMAND_ATTEMPTS",
    "DEAD_LETTERS",
    "RATE_LIMIT_WAIT_SECONDS",
    "RETRIES_SCHEDULED",
    "count",
]

ATTEMPTS = Counter(
    "capgate_attempts",
    "Attempts recorded in the audit trail, by operation and outcome.",
    ["operation", "outcome"],
)
COMMANDS = Counter(
    "capgate_commands",
    "Commands settled (no retry pending), by operation and final outcome.",
    ["operation", "outcome"],
)
COMMAND_ATTEMPTS = Histogram(
    "capgate_command_attempts",
    "How many attempts a command took to settle, by operation.",
    ["operation"],
    buckets=(1, 2, 3, 4, 5, 6, 8, 10, 15, 20),
)
RETRIES_SCHEDULED = Counter(
    "capgate_retries_scheduled",
    "Retries scheduled, by operation and reason (retryable error or rate limit).",
    ["operation", "reason"],
)
DEAD_LETTERS = Counter(
    "capgate_dead_letters", "Commands moved to the dead letters, by operation.", ["operation"]
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "capgate_rate_limit_wait_seconds",
    "How long a rate-limited command was told to wait before its next attempt.",
    ["operation"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
AUDIT_WRITE_SECONDS = Histogram(
    "capgate_audit_write_seconds",
    "Time to write one audit row (inside the attempt's transaction).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
AUDIT_WRITE_ERRORS = Counter(
    "capgate_audit_write_errors",
    "Audit rows that could not be written (the command was not acknowledged).",
)

_RETRYING = {Outcome.RETRY_SCHEDULED: "retryable", Outcome.RATE_LIMITED: "rate_limited"}


def operation_label(operation: str | None) -> str:
    """The operation as a label value: a catalogued name, or ``unknown``."""
    return operation if operation is not None and operation in CATALOG else "unknown"


def count(event: AuditEvent) -> None:
    """Move the metrics for one committed audit row of a command attempt."""
    operation = operation_label(event.operation)
    outcome = event.outcome
    ATTEMPTS.labels(operation, outcome.value).inc()
    if outcome is Outcome.RESENT:
        return  # a note on an attempt that has its own outcome row
    reason = _RETRYING.get(outcome)
    if reason is not None:
        RETRIES_SCHEDULED.labels(operation, reason).inc()
        if outcome is Outcome.RATE_LIMITED and event.retry_delay_ms is not None:
            RATE_LIMIT_WAIT_SECONDS.labels(operation).observe(event.retry_delay_ms / 1000)
        return
    COMMANDS.labels(operation, outcome.value).inc()
    COMMAND_ATTEMPTS.labels(operation).observe(event.attempt)
    if outcome is Outcome.DEAD_LETTERED:
        DEAD_LETTERS.labels(operation).inc()
