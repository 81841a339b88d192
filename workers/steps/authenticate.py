"""Step: parse and authenticate the delivery, and check it matches its task."""

from __future__ import annotations

from capgate.contracts.catalog import get_operation
from capgate.contracts.errors import PluginServiceError
from capgate.workers.deps import PipelineDeps
from capgate.workers.work import Work

__all__ = ["authenticate"]


def authenticate(work: Work, deps: PipelineDeps) -> None:
    """Verify the signature before trusting anything, then bind the operation.

    The operation must be the one the task is named after: otherwise a plugin
    allowed to publish only to the users queue could smuggle an email there.
    """
    token = work.delivery.retry_token
    envelope = deps.authenticate(work.delivery.body, work.now, scheduled=token is not None)
    if token is not None and deps.tokens.attempt_of(envelope.command_id, token) is None:
        # Only capgate's scheduler can make a token; a forged one must not
        # let an expired command through.
        raise PluginServiceError.permission(
            "invalid_retry_token", "the delivery carries a retry token capgate did not issue"
        )
    work.envelope = envelope
    # The signature is an HMAC over the whole canonical envelope: a fingerprint
    # that tells a redelivery (same bytes) from a reused command id.
    work.fingerprint = envelope.signature
    if envelope.task_name != work.delivery.task_name:
        raise PluginServiceError.validation(
            "operation_mismatch",
            f"envelope operation {envelope.operation!r} sent as task {work.delivery.task_name!r}",
        )
    work.spec = get_operation(envelope.operation)
