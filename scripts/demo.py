"""`make demo`: the whole cycle on this machine, no AWS account needed.

Starts moto's server as the local Secrets Manager and the Matrix42 stand-in on
loopback, runs the scheduled event twice (refresh, then skip), shows a consumer
reading the token, and stops what it started.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from scripts.invoke import LocalContext, load_handler
from scripts.local_aws import MotoServer
from scripts.matrix42_standin import Matrix42StandIn

EVENTS = Path(__file__).resolve().parent.parent / "events"
DEMO_PAT = "demo-pat-0123456789abcdef"
PAT_SECRET = "matrix42-demo/pat"
TOKEN_SECRET = "matrix42-demo/bearer-token"
PLACEHOLDER_RECORD = '{"token": null, "expires_at": null}'


def say(text: str = "") -> None:
    print(text, flush=True)


def configure(secrets_url: str, exchange_url: str) -> None:
    """Point the handler at the local stand-ins, as a deployment's settings would."""
    os.environ.update(
        AWS_ENDPOINT_URL_SECRETS_MANAGER=secrets_url,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="eu-central-1",
        PAT_SECRET_ID=PAT_SECRET,
        TOKEN_SECRET_ID=TOKEN_SECRET,
        EXCHANGE_URL=exchange_url,
        POWERTOOLS_SERVICE_NAME="matrix42-token-refresher",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def create_secrets() -> None:
    import boto3

    client = boto3.client("secretsmanager")
    client.create_secret(Name=PAT_SECRET, SecretString=json.dumps({"pat": DEMO_PAT}))
    client.create_secret(Name=TOKEN_SECRET, SecretString=PLACEHOLDER_RECORD)


def run_scheduled_event() -> dict[str, Any]:
    event = json.loads((EVENTS / "scheduled.json").read_text())
    return load_handler()(event, LocalContext())


def describe(result: dict[str, Any]) -> str:
    line = f"{result['status']} ({result['reason']}): token {result['fingerprint']}"
    line += f", expires {result['expires_at']}"
    if result["status"] == "skipped":
        line += f", {result['seconds_to_expiry']} s left, no exchange made"
    return line


def read_as_consumer(check_url: str) -> str:
    """What another workload does: read the token secret, call Matrix42 with it."""
    import requests

    from matrix42_token import Matrix42Auth, TokenReader

    reader = TokenReader(secret_id=TOKEN_SECRET)
    fingerprint = reader.get_record().fingerprint
    answer = requests.get(check_url, auth=Matrix42Auth(reader), timeout=5)
    return f"token {fingerprint}, GET {check_url} answered HTTP {answer.status_code}"


def main() -> int:
    say("Matrix42 token refresher demo: local Secrets Manager and Matrix42 stand-in")
    with MotoServer() as moto, Matrix42StandIn(valid_pats=(DEMO_PAT,)) as matrix42:
        configure(moto.url, matrix42.exchange_url)
        create_secrets()
        say(f"  Secrets Manager  {moto.url} (moto's server)")
        say(f"  Matrix42         {matrix42.exchange_url} (stand-in)")
        say(f"  secrets          {PAT_SECRET} (holds the PAT), {TOKEN_SECRET}")
        say()
        say("1. events/scheduled.json, nothing published yet")
        say(f"   -> {describe(run_scheduled_event())}")
        say("2. events/scheduled.json again")
        say(f"   -> {describe(run_scheduled_event())}")
        say(f"   exchange calls so far: {matrix42.exchange_count}")
        say("3. a consumer reads the token with matrix42_token and calls Matrix42")
        say(f"   -> {read_as_consumer(matrix42.verify_url)}")
    say()
    say("Stopped the local Secrets Manager and the stand-in.")
    say("Next: make test, or make invoke EVENT=events/dry-run.json against your AWS.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
