"""The child side of `make bench`, run in the Lambda-like venv (.venv-bench).

    python -m scripts.bench_worker warm ROUNDS RESULT_FILE
    python -m scripts.bench_worker invoke RESULT_FILE
    python -m scripts.bench_worker bare RESULT_FILE

Settings come from the environment, as the handler's do (PAT_SECRET_ID,
TOKEN_SECRET_ID, EXCHANGE_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER); the bare baseline
writes to BENCH_BARE_SECRET_ID, so it never touches the record the handler reads.
PYTHONPATH holds the built function and layer, as Lambda's search path does. The
figures go to RESULT_FILE as JSON; stdout carries the handler's logs and metrics,
as it does in Lambda.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from scripts.invoke import LocalContext

EVENTS = Path(__file__).resolve().parent.parent / "events"
BARE_SECRET_VARIABLE = "BENCH_BARE_SECRET_ID"  # noqa: S105 (a variable name)
HTTP_TIMEOUT_SECONDS = 10


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@dataclasses.dataclass(frozen=True)
class BareCalls:
    """The handler's operations done by plain boto3 and requests calls: the baseline."""

    client: Any
    session: Any
    pat_secret_id: str
    token_secret_id: str
    exchange_url: str
    target_secret_id: str

    @classmethod
    def from_env(
        cls, client: Any, session: Any, env: Mapping[str, str] = os.environ
    ) -> BareCalls:
        return cls(
            client,
            session,
            env["PAT_SECRET_ID"],
            env["TOKEN_SECRET_ID"],
            env["EXCHANGE_URL"],
            env[BARE_SECRET_VARIABLE],
        )

    def skip(self) -> dict[str, Any]:
        """Read both secrets in one call."""
        ids = [self.pat_secret_id, self.token_secret_id]
        return self.client.batch_get_secret_value(SecretIdList=ids)

    def refresh(self) -> None:
        """Read both secrets, exchange the PAT, write the new token."""
        values = {value["Name"]: value for value in self.skip()["SecretValues"]}
        pat = json.loads(values[self.pat_secret_id]["SecretString"])["pat"]
        answer = self.session.get(
            self.exchange_url,
            headers={"Authorization": f"Bearer {pat}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        answer.raise_for_status()
        self.client.put_secret_value(
            SecretId=self.target_secret_id, SecretString=answer.json()["RawToken"]
        )


def bare_calls() -> BareCalls:
    import boto3
    import requests

    return BareCalls.from_env(boto3.client("secretsmanager"), requests.Session())


def built_handler() -> Callable:
    """The handler from the search path (the build), not from the source folder."""
    from app import lambda_handler

    return lambda_handler


def invoke(handler: Callable, event: dict[str, Any], expected: str) -> None:
    """One invocation, which must end with the ``expected`` status."""
    status = handler(event, LocalContext())["status"]
    if status != expected:
        raise RuntimeError(f"the handler answered {status!r}, not {expected!r}")


def run_warm(rounds: int) -> dict[str, list[float]]:
    """Seconds per operation, handler and baseline interleaved round by round."""
    handler, bare = built_handler(), bare_calls()
    force, scheduled = load_event("force-refresh.json"), load_event("scheduled.json")
    # In this order: after a forced refresh the record is fresh, so the scheduled
    # event takes the skip path.
    steps: dict[str, Callable[[], Any]] = {
        "refresh": lambda: invoke(handler, force, "refreshed"),
        "bare_refresh": bare.refresh,
        "skip": lambda: invoke(handler, scheduled, "skipped"),
        "bare_skip": bare.skip,
    }
    for step in steps.values():  # the first call of each is not warm yet
        step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - started)
    return samples


def max_rss_bytes() -> int:
    """This process's peak resident set size (Linux: VmHWM).

    Not getrusage's ru_maxrss: Linux carries that over from the process that was
    replaced by exec, here the forked copy of the dev-venv parent.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory needs Linux")


def run_invoke() -> dict[str, int]:
    """A cold invocation: import the handler and refresh once."""
    invoke(built_handler(), load_event("force-refresh.json"), "refreshed")
    return {"max_rss_bytes": max_rss_bytes()}


def run_bare() -> dict[str, int]:
    """The baseline process: import boto3 and requests, do the bare refresh."""
    bare_calls().refresh()
    return {"max_rss_bytes": max_rss_bytes()}


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "warm":
        rounds, result_file = rest
        result: Any = run_warm(int(rounds))
    else:
        (result_file,) = rest
        result = {"invoke": run_invoke, "bare": run_bare}[mode]()
    Path(result_file).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
