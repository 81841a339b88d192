"""Release links made by a real worker, checked at the download gate: every refusal is audited.

Attack cases of issue 9: a tampered link, an expired one, one forwarded to
another recipient, and one used for another bundle. Each is refused with
its own code and leaves one ``denied`` audit row; the gate serves nothing,
and no audit row holds the token (a bearer secret).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from capgate.adapters.release_gate import CHECK_OPERATION, ReleaseLinkGate
from capgate.adapters.release_links import release_link_key
from capgate.audit.schema import AuditEventRow
from capgate.audit.store import AuditStore
from capgate.contracts.errors import ErrorKind, PluginServiceError
from tests.e2e.workers import WorkerProcess, client_for
from tests.support.world import SECRET, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

HASH = "sha256:" + "ab" * 32


def _checks(world: World) -> list[AuditEventRow]:
    with world.runtime.sessions() as session:
        query = select(AuditEventRow).where(AuditEventRow.operation == CHECK_OPERATION)
        return list(session.scalars(query.order_by(AuditEventRow.id)))


def _wait_for_line(log: Path, *texts: str, timeout: float = 15.0) -> str:
    """The first line of ``log`` holding all ``texts`` (Celery writes the success
    line just after storing the result, so it may come after the caller has it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if all(text in line for text in texts):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no line with {texts!r} in {log}")


def test_release_link_attacks_are_refused_and_audited(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str]
) -> None:
    plugin = world.add_plugin("releaser", "links", {"storage:link": None})
    link = client_for(plugin, e2e_settings).call(
        "storage.create_release_link",
        {
            "bundle_id": "b-q1-report",
            "recipient_id": "r-acme",
            "ttl_seconds": 600,
            "content_hash": HASH,
        },
        timeout=30,
    )
    token = parse_qs(urlsplit(link["url"]).query)["token"][0]
    # The worker logs the task's result (and sends it to Flower) as its audit
    # summary: the link by hash, never the token.
    succeeded = _wait_for_line(worker.log, "create_release_link[", "succeeded in")
    assert link["link_id"] in succeeded and "url:sha256=" in succeeded
    assert token not in worker.log.read_text()
    audit = AuditStore(world.runtime.sessions, secret=SECRET)
    gate = ReleaseLinkGate(audit, key=release_link_key(SECRET))
    later = ReleaseLinkGate(
        audit, key=release_link_key(SECRET), clock=lambda: datetime.now(UTC) + timedelta(hours=1)
    )
    claims_part, _, signature = token.partition(".")
    tampered = f"{claims_part[:-2]}{'A' if claims_part[-2] != 'A' else 'B'}{claims_part[-1]}"
    attacks = [
        (gate, f"{tampered}.{signature}", "b-q1-report", "r-acme", "release_link_tampered"),
        (later, token, "b-q1-report", "r-acme", "release_link_expired"),
        (gate, token, "b-q1-report", "r-globex", "release_link_wrong_recipient"),
        (gate, token, "b-onboarding", "r-acme", "release_link_wrong_bundle"),
    ]
    for checker, presented, bundle, recipient, code in attacks:
        with pytest.raises(PluginServiceError) as refused:
            checker.check(presented, bundle_id=bundle, recipient_id=recipient, content_hash=HASH)
        assert (refused.value.kind, refused.value.code) == (ErrorKind.PERMISSION, code)

    # The bundle's content changed since the link was made.
    with pytest.raises(PluginServiceError) as changed:
        gate.check(token, bundle_id="b-q1-report", recipient_id="r-acme", content_hash="sha256:00")
    assert changed.value.code == "release_link_content_changed"
    granted = gate.check(token, bundle_id="b-q1-report", recipient_id="r-acme", content_hash=HASH)
    assert granted.link_id == link["link_id"]

    rows = _checks(world)
    assert [(r.outcome, r.error_code, r.resource_id, r.actor_id) for r in rows] == [
        ("denied", "release_link_tampered", "b-q1-report", "r-acme"),
        ("denied", "release_link_expired", "b-q1-report", "r-acme"),
        ("denied", "release_link_wrong_recipient", "b-q1-report", "r-globex"),
        ("denied", "release_link_wrong_bundle", "b-onboarding", "r-acme"),
        ("denied", "release_link_content_changed", "b-q1-report", "r-acme"),
        ("succeeded", None, "b-q1-report", "r-acme"),
    ]
    assert rows[-1].response_summary == {"link_id": link["link_id"]}
    with world.runtime.sessions() as session:
        every_row = session.scalars(select(AuditEventRow)).all()
    for row in every_row:
        text = repr([getattr(row, c.key) for c in AuditEventRow.__table__.columns])
        assert signature not in text and claims_part not in text
