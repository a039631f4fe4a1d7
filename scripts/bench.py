"""`make bench`: what the refresher costs where it runs, each figure beside a
baseline measured in the same run (these machines are noisy: read the ratios).

    python -m scripts.bench --bench-python .venv-bench/bin/python

This process runs in the dev venv: it builds with sam, starts moto's server, the
Matrix42 stand-in and the fault proxy on loopback, and counts round trips and
consumer reads itself. Whatever is timed or weighed runs in fresh processes of the
Lambda-like venv given by --bench-python, on the `sam build` output and without
writing bytecode, as in Lambda: its /var/task is read-only and sam ships no .pyc,
so every cold start compiles the packaged modules. Progress goes to stderr, the
table and its notes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from scripts import bench_cold, bench_consumer, bench_report, bench_size
from scripts.bench_worker import BARE_SECRET_VARIABLE, bare_calls, invoke, load_event
from scripts.invoke import FUNCTION_DIR, load_handler
from scripts.local_aws import MotoServer
from scripts.matrix42_standin import Matrix42StandIn
from tests.support.aws_fault_proxy import AwsFaultProxy

REPO_ROOT = FUNCTION_DIR.parents[1]
PAT = "bench-pat-0123456789abcdef"
PAT_SECRET = "bench/matrix42-pat"  # noqa: S105 (a secret's name)
TOKEN_SECRET = "bench/bearer-token"  # noqa: S105
BARE_SECRET = "bench/bare-token"  # noqa: S105
CONSUMER_SECRET = "bench/consumer-token"  # noqa: S105
PLACEHOLDER_RECORD = '{"token": null, "expires_at": null}'
TRIP_INVOCATIONS = 5
MEMORY_RUNS = 3
CHILD_TIMEOUT_SECONDS = 300


def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def app_settings(secrets_url: str, exchange_url: str) -> dict[str, str]:
    """What the template gives the function, with endpoints on loopback."""
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_url,
        "PAT_SECRET_ID": PAT_SECRET,
        "TOKEN_SECRET_ID": TOKEN_SECRET,
        "EXCHANGE_URL": exchange_url,
        "POWERTOOLS_SERVICE_NAME": "matrix42-token-refresher",
        "POWERTOOLS_METRICS_NAMESPACE": "Matrix42TokenRefresher",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        BARE_SECRET_VARIABLE: BARE_SECRET,
    }


def child_env(settings: dict[str, str], build: Path) -> dict[str, str]:
    """This environment without AWS, Python and Powertools variables, plus ours:
    the built function and layer on the path, no bytecode written."""
    prefixes = ("AWS_", "PYTHON", "POWERTOOLS_")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    search_path = os.pathsep.join(map(str, bench_size.built_paths(build)))
    return {
        **inherited,
        **settings,
        "PYTHONPATH": search_path,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def wire_trips(step: Callable[[], Any], proxy: AwsFaultProxy, standin: Any) -> tuple:
    """The Secrets Manager operations and the exchange calls that ``step`` made."""
    calls, exchanges = len(proxy.calls), standin.exchange_count
    step()
    return tuple(proxy.calls[calls:]), standin.exchange_count - exchanges


def count_round_trips(proxy: AwsFaultProxy, standin: Any) -> dict[str, list[tuple]]:
    """Per invocation, in this process; the first one finds the placeholder record."""
    handler, bare = load_handler(), bare_calls()
    force, scheduled = load_event("force-refresh.json"), load_event("scheduled.json")
    steps = [
        ("refresh", lambda: invoke(handler, scheduled, "refreshed")),
        *[("refresh", lambda: invoke(handler, force, "refreshed"))] * TRIP_INVOCATIONS,
        *[("skip", lambda: invoke(handler, scheduled, "skipped"))] * TRIP_INVOCATIONS,
        *[("bare_refresh", bare.refresh)] * TRIP_INVOCATIONS,
        *[("bare_skip", bare.skip)] * TRIP_INVOCATIONS,
    ]
    trips: dict[str, list[tuple]] = defaultdict(list)
    for name, step in steps:
        trips[name].append(wire_trips(step, proxy, standin))
    return trips


def measure_memory(python: str, env: dict) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {"invoke": [], "bare": []}
    for _ in range(MEMORY_RUNS):
        for mode, values in samples.items():
            values.append(run_in_child(python, env, mode)["max_rss_bytes"])
    return samples


def create_secrets(client: Any) -> None:
    client.create_secret(Name=PAT_SECRET, SecretString=json.dumps({"pat": PAT}))
    for name in (TOKEN_SECRET, BARE_SECRET, CONSUMER_SECRET):
        client.create_secret(Name=name, SecretString=PLACEHOLDER_RECORD)


def use_in_process(settings: dict[str, str]) -> None:
    """Point this process's handler at ``settings``, with logs and metrics quiet."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(settings)
    os.environ.update(POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_METRICS_DISABLED="true")


def run_in_child(python: str, env: dict, mode: str, *args: str) -> Any:
    """Run scripts.bench_worker in the bench venv; its JSON result."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        result = Path(folder) / "result.json"
        run = subprocess.run(  # noqa: S603 (the bench venv's python, our module)
            [python, "-m", "scripts.bench_worker", mode, *args, str(result)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,  # the handler's logs and metrics
            stderr=subprocess.PIPE,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
        if run.returncode != 0:
            raise RuntimeError(f"bench worker {mode!r} failed:\n{run.stderr}")
        return json.loads(result.read_text())


def run_with_services(args: argparse.Namespace, build: Path) -> dict[str, Any]:
    """Everything that needs the local Secrets Manager and the stand-in."""
    results: dict[str, Any] = {}
    with (
        MotoServer() as moto,
        Matrix42StandIn(valid_pats=(PAT,)) as standin,
        AwsFaultProxy(moto.url) as proxy,
    ):
        env = child_env(app_settings(moto.url, standin.exchange_url), build)
        progress(f"cold start, twice {args.cold_runs} fresh processes each")
        results["cold"] = bench_cold.measure(
            args.bench_python, args.cold_runs, env, build
        )
        use_in_process(app_settings(proxy.url, standin.exchange_url))
        writer = boto3.client("secretsmanager", endpoint_url=moto.url)
        create_secrets(writer)
        progress("round trips on the wire (in this process, through the proxy)")
        results["trips"] = count_round_trips(proxy, standin)
        progress(f"warm invocations, {args.warm_runs} rounds")
        rounds = str(args.warm_runs)
        results["warm"] = run_in_child(args.bench_python, env, "warm", rounds)
        progress(f"peak memory, {MEMORY_RUNS} cold processes each")
        results["memory"] = measure_memory(args.bench_python, env)
        progress("consumer reads over one simulated token lifetime")
        reader = boto3.client("secretsmanager", endpoint_url=proxy.url)
        results["consumer"] = bench_consumer.measure(
            reader, writer, CONSUMER_SECRET, proxy
        )
    return results


def revision() -> str:
    """The commit measured, ``-dirty`` when the work tree differs from it."""
    run = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 (git from PATH)
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return run.stdout.strip() or "an unknown commit"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--bench-python", required=True, help="python of the Lambda-like venv"
    )
    parser.add_argument("--cold-runs", type=int, default=30)
    parser.add_argument("--warm-runs", type=int, default=50)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-sam-build-") as folder:
        progress("sam build into a temporary folder")
        bench_size.sam_build(Path(folder))
        sizes = bench_size.measure(Path(folder))
        results = run_with_services(args, Path(folder))
    versions = bench_cold.runtime_versions(args.bench_python)
    print(bench_report.header(*versions, revision()))
    print(bench_report.table(results, sizes, args.cold_runs, args.warm_runs))
    print(bench_report.notes(results["trips"], time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
