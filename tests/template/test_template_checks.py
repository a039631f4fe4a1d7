"""The offline template checks: sam validate --lint, cfn-lint and checkov.

They run the same commands as `make lint-template`, all three at once in one
session fixture (they take 2 to 8 s each). checkov lives in its own venv, which
`make test` creates first; if it is missing, the checkov test fails, never skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.template.conftest import REPO_ROOT, TEMPLATE_PATH

DEV_TOOLS = Path(sys.executable).parent
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
TIMEOUT_SECONDS = 180
COMMANDS = {
    "sam": [str(DEV_TOOLS / "sam"), "validate", "--lint", "--template-file"],
    "cfn-lint": [str(DEV_TOOLS / "cfn-lint")],
    "checkov": [
        str(CHECKOV),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--output",
        "json",
        "--file",
    ],
}
OFFLINE_ENVIRONMENT = {
    "SAM_CLI_TELEMETRY": "0",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
}


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | str:
    if not Path(command[0]).exists():
        return f"{command[0]} does not exist"
    return subprocess.run(  # noqa: S603 (fixed commands, our own template)
        [*command, str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        env={**os.environ, **OFFLINE_ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="session")
def check_runs() -> dict[str, subprocess.CompletedProcess[str] | str]:
    """Each tool's finished process, or why it could not start."""
    with ThreadPoolExecutor(max_workers=len(COMMANDS)) as pool:
        futures = {
            name: pool.submit(_run, command) for name, command in COMMANDS.items()
        }
        return {name: future.result() for name, future in futures.items()}


def finished(runs: dict[str, Any], name: str) -> subprocess.CompletedProcess[str]:
    run = runs[name]
    if isinstance(run, str):
        hint = "make .venv-checkov" if name == "checkov" else "make venv"
        pytest.fail(f"{name} cannot run: {run}; `{hint}` installs it")
    return run


def describe(run: subprocess.CompletedProcess[str]) -> str:
    return f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"


def test_sam_validate_lint_passes(check_runs: dict[str, Any]) -> None:
    run = finished(check_runs, "sam")

    assert run.returncode == 0, describe(run)
    assert "is a valid SAM Template" in run.stdout + run.stderr


def test_cfn_lint_reports_nothing(check_runs: dict[str, Any]) -> None:
    run = finished(check_runs, "cfn-lint")

    # Exit code 0 means no error, warning or informational finding.
    assert run.returncode == 0, describe(run)
    assert run.stdout.strip() == ""


def test_cfn_lint_is_configured_only_inside_the_template() -> None:
    # Any ignored rule must sit in the template's Metadata, next to its reason.
    assert not (REPO_ROOT / ".cfnlintrc").exists()
    assert not (REPO_ROOT / ".cfnlintrc.yaml").exists()


def checkov_report(check_runs: dict[str, Any]) -> dict[str, Any]:
    run = finished(check_runs, "checkov")
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not print a JSON report: {describe(run)}")
    assert isinstance(report, dict), "expected one framework's report"
    return report


def test_checkov_finds_no_failed_check(check_runs: dict[str, Any]) -> None:
    report = checkov_report(check_runs)
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]

    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 10
    assert finished(check_runs, "checkov").returncode == 0


def test_checkov_skips_each_carry_a_reason(check_runs: dict[str, Any]) -> None:
    skipped = checkov_report(check_runs)["results"]["skipped_checks"]

    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, f"{check['check_id']} on {check['resource']}"


def test_checkov_skips_in_the_template_are_all_needed(
    check_runs: dict[str, Any], sam_template: dict
) -> None:
    declared = {
        (logical_id, skip["id"])
        for logical_id, resource in sam_template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    skipped = checkov_report(check_runs)["results"]["skipped_checks"]
    used = {(check["resource"].split(".")[-1], check["check_id"]) for check in skipped}

    assert declared == used
