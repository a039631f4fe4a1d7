"""What `sam build` produces runs: the built function, its layer and nothing else.

The test builds into a temporary folder (no containers; pip fetches the arm64
wheels, pure-Python fallbacks load here), then runs events/dry-run.json through
the built handler in a child interpreter that sees only what Lambda would: the
function folder, the layer's python/ folder and the runtime's own boto3. The
environment is the one the template sets, with the secrets and the exchange
pointed at moto's server and the Matrix42 stand-in on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.local_aws import MotoServer
from scripts.matrix42_standin import Matrix42StandIn
from tests.template.conftest import REPO_ROOT, TEMPLATE_PATH

Deployed = Callable[[str], dict[str, Any]]

PAT = "m42pat-BuildTest-3f9a1c7e5b2d"
PAT_SECRET = "matrix42-token-refresher/matrix42-pat"
TOKEN_SECRET = "matrix42/bearer-token"
# The Lambda python3.13 runtime ships boto3 and these dependencies of it.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py")
BUILD_TIMEOUT_SECONDS = 300

# Runs in the child: Lambda's search order is the function, then the layer, then
# the runtime. Prints where each part was imported from, then the result.
RUNNER = """
import json, sys
function_dir, layer_dir, runtime_dir, event_path = sys.argv[1:5]
sys.path[:0] = [function_dir, layer_dir, runtime_dir]

class Context:
    function_name = "matrix42-token-refresher-build-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    invoked_function_arn = (
        "arn:aws:lambda:eu-central-1:111122223333:function:" + function_name
    )

    def get_remaining_time_in_millis(self):
        return 30_000

import app, matrix42_token, requests, boto3
with open(event_path) as event_file:
    result = app.lambda_handler(json.load(event_file), Context())
origins = {m.__name__: m.__file__ for m in (app, matrix42_token, requests, boto3)}
print(json.dumps({"origins": origins, "result": result}))
"""


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sam-build")
    tools = Path(sys.executable).parent
    environment = {
        **os.environ,
        # sam build packages for python3.13 with the python3.13 first on PATH.
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "SAM_CLI_TELEMETRY": "0",
    }
    command = [
        str(tools / "sam"),
        "build",
        "--template-file",
        str(TEMPLATE_PATH),
        "--build-dir",
        str(target),
    ]
    run = subprocess.run(  # noqa: S603 (fixed command, our own template)
        command,
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert run.returncode == 0, f"sam build failed:\n{run.stdout}\n{run.stderr}"
    return target


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runtime's boto3, linked from this venv (Lambda does not take ours)."""
    target = tmp_path_factory.mktemp("lambda-runtime")
    site_packages = Path(boto3.__file__).parents[1]
    for name in RUNTIME_MODULES:
        (target / name).symlink_to(site_packages / name)
    return target


@pytest.fixture(scope="module")
def local_services() -> Iterator[tuple[MotoServer, Matrix42StandIn]]:
    with MotoServer() as moto, Matrix42StandIn(valid_pats=(PAT,)) as standin:
        yield moto, standin


def test_build_puts_function_and_layer_where_lambda_looks(build_dir: Path) -> None:
    function = build_dir / "TokenRefreshFunction"
    layer_package = build_dir / "TokenClientLayer" / "python" / "matrix42_token"

    assert (function / "app.py").is_file()
    assert (function / "requests").is_dir()
    assert (layer_package / "__init__.py").is_file()
    # boto3 comes with the runtime; packaging it would only add size.
    assert not (function / "boto3").exists()
    assert not list(function.glob("**/*x86_64*.so")), "built for the wrong CPU"


def test_built_function_runs_dry_run_against_local_stand_ins(
    build_dir: Path,
    runtime_dir: Path,
    local_services: tuple[MotoServer, Matrix42StandIn],
    deployed: Deployed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto, standin = local_services
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.url)
    client = boto3.client("secretsmanager")
    placeholder = '{"token": null, "expires_at": null}'
    client.create_secret(Name=PAT_SECRET, SecretString=json.dumps({"pat": PAT}))
    client.create_secret(Name=TOKEN_SECRET, SecretString=placeholder)
    template = deployed("defaults")
    variables = template["Resources"]["TokenRefreshFunction"]["Properties"][
        "Environment"
    ]["Variables"]
    environment = {
        **os.environ,
        **variables,
        "PAT_SECRET_ID": PAT_SECRET,
        "TOKEN_SECRET_ID": TOKEN_SECRET,
        "EXCHANGE_URL": standin.exchange_url,
    }

    run = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            RUNNER,
            str(build_dir / "TokenRefreshFunction"),
            str(build_dir / "TokenClientLayer" / "python"),
            str(runtime_dir),
            str(REPO_ROOT / "events" / "dry-run.json"),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["result"]["status"] == "dry_run"
    origins = answer["origins"]
    assert origins["app"].startswith(str(build_dir / "TokenRefreshFunction"))
    assert origins["requests"].startswith(str(build_dir / "TokenRefreshFunction"))
    assert origins["matrix42_token"].startswith(str(build_dir / "TokenClientLayer"))
    assert origins["boto3"].startswith(str(runtime_dir))
    # A dry run exchanges and validates but publishes nothing.
    current = client.get_secret_value(SecretId=TOKEN_SECRET)["SecretString"]
    assert current == placeholder
    assert PAT not in run.stdout + run.stderr
