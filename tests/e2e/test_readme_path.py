"""The README's "Running it for real", run line by line as a new user would.

The shell block is read from README.md itself, so the test fails when the
README changes into something that no longer works. Only its first line (the
``export`` of a placeholder database URL and secret) is replaced by this
test's PostgreSQL database and Redis; every other line runs verbatim under
``set -e``, with the ``capgate`` of this virtual environment first on PATH.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.workers import settings_for, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(section: str) -> list[str]:
    """The lines of the first ``sh`` code block under the heading ``section``."""
    text = README.read_text(encoding="utf-8")
    after = text.split(f"## {section}\n", 1)[1]
    block = after.split("```sh\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def stop_group(group: int, grace: float = 20.0) -> None:
    """Stop every process of ``group`` (warm shutdown first, then kill)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            os.killpg(group, 0)  # raises ProcessLookupError once all are gone
            time.sleep(0.2)
        os.killpg(group, signal.SIGKILL)


def test_running_it_for_real_works_as_written(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    lines = readme_block("Running it for real")
    assert lines[0].startswith("export CAPGATE_DATABASE_URL="), lines[0]
    settings = settings_for(postgres_url, redis_url, tmp_path, databases=(14, 15, 3))
    env = worker_env(settings)
    # A new user has only the variables the README exports: drop the test
    # worker's extras (eml folder, fast retry policies) so the defaults apply.
    for name in ("CAPGATE_EML_FOLDER", "CAPGATE_RETRY_POLICIES"):
        env.pop(name, None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = "\n".join(["set -e", "export CAPGATE_SECRET=...", *lines[1:]])
    # Output goes to a file, not a pipe: the background worker keeps its
    # copy of stdout open after the shell has finished.
    log_path = tmp_path / "readme.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        process.wait(timeout=180)
    finally:
        # The README's worker runs in the background of that shell: stop it
        # (and its pool) with the whole process group.
        stop_group(process.pid)
    log = log_path.read_text(errors="replace")
    assert process.returncode == 0, log[-4000:]
    assert '"provider": "outbox"' in log, log[-4000:]
    sent = list((tmp_path / "outbox").rglob("*.eml"))
    assert len(sent) == 1, log[-4000:]
    assert "Subject: hi" in sent[0].read_text()
