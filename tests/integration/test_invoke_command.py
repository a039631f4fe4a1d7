"""`make invoke` as a person runs it: a child process, the environment, stdout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.integration.conftest import PAT, Deployment

ROOT = Path(__file__).resolve().parents[2]


def make_invoke(event: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed command)
        ["make", "--no-print-directory", "invoke", f"EVENT=events/{event}.json"],  # noqa: S607
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_invoke_force_refresh_publishes_and_prints_result_last(
    deployment: Deployment,
):
    deployment.configure(POWERTOOLS_LOG_LEVEL="INFO")

    run = make_invoke("force-refresh")

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == "refreshed"
    assert result["reason"] == "forced"
    assert deployment.current_record()["token"] == deployment.standin.issued_tokens[-1]
    assert '"message":"refresh finished"' in run.stdout  # the logs come first
    # No POWERTOOLS_* variable is set here: the handler's defaults name it.
    assert '"service":"matrix42-token-refresher"' in run.stdout
    assert '"Namespace":"Matrix42TokenRefresher"' in run.stdout
    assert deployment.standin.issued_tokens[-1] not in run.stdout + run.stderr
    assert PAT not in run.stdout + run.stderr


def test_make_invoke_failure_exits_non_zero_with_cause_on_stderr(
    deployment: Deployment,
):
    deployment.standin.valid_pats.discard(PAT)

    run = make_invoke("force-refresh")

    assert run.returncode != 0
    assert "ExchangeRefusedError" in run.stderr
    assert "HTTP 401" in run.stderr
    for text in (run.stdout, run.stderr):
        assert PAT not in text
