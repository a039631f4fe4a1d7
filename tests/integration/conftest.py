"""Real parts on loopback: moto's server for Secrets Manager and the Matrix42 stand-in.

Both start once per session; each test gets them reset. boto3 and requests are not
patched: the handler talks HTTP to both, exactly as it would in Lambda.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.invoke import LocalContext, load_handler
from scripts.local_aws import MotoServer
from scripts.matrix42_standin import Matrix42StandIn

EVENTS = Path(__file__).resolve().parents[2] / "events"
PAT = "m42pat-Integration-7c1e5a9b3d4f"
OTHER_PAT = "m42pat-Rotated-0b8e2d6f4a1c"
PAT_SECRET = "matrix42/pat"
TOKEN_SECRET = "matrix42/bearer-token"
# What the stack's template puts in a new token secret: "nothing published yet".
PLACEHOLDER_RECORD = '{"token": null, "expires_at": null}'


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def standin() -> Iterator[Matrix42StandIn]:
    with Matrix42StandIn(valid_pats=(PAT, OTHER_PAT), token_lifetime=3600) as server:
        yield server


@pytest.fixture
def secretsmanager(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_server.url)
    handler_module = _handler_module()
    handler_module._secrets_client.cache_clear()
    return boto3.client("secretsmanager")


def _handler_module() -> Any:
    load_handler()
    import app

    return app


@dataclasses.dataclass
class Invocation:
    """What one handler call produced: its result or error, and all it printed."""

    result: dict[str, Any] | None
    error: BaseException | None
    output: str

    def texts(self) -> list[str]:
        """Every text a person or a log pipeline could see from this call."""
        texts = [self.output, json.dumps(self.result)]
        error = self.error
        while error is not None:
            texts += [str(error), repr(error)]
            error = error.__cause__ or error.__context__
        return texts


@dataclasses.dataclass
class Deployment:
    """The refresher's world: both secrets, the stand-in, and a way to invoke."""

    client: Any
    standin: Matrix42StandIn
    capfd: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    invocations: list[Invocation] = dataclasses.field(default_factory=list)

    def configure(self, **settings: str) -> None:
        for name, value in settings.items():
            self.monkeypatch.setenv(name, value)

    def put_pat(self, value: str) -> None:
        self.client.put_secret_value(SecretId=PAT_SECRET, SecretString=value)

    def put_record(self, value: str) -> None:
        self.client.put_secret_value(SecretId=TOKEN_SECRET, SecretString=value)

    def current_record(self) -> dict[str, Any]:
        return json.loads(self.current_token_secret()["SecretString"])

    def current_token_secret(self) -> dict[str, Any]:
        value = self.client.get_secret_value(SecretId=TOKEN_SECRET)
        return {key: value[key] for key in ("VersionId", "SecretString")}

    def version_count(self) -> int:
        versions = self.client.list_secret_version_ids(SecretId=TOKEN_SECRET)
        return len(versions["Versions"])

    def invoke(self, event: str | dict[str, Any], timeout: float = 20.0) -> Invocation:
        """Run the handler once; never raises, so tests can inspect failures."""
        payload = load_event(event) if isinstance(event, str) else event
        self.capfd.readouterr()
        # Powertools' handler keeps the stdout it saw first; point it at this
        # test's captured stdout so every log line is inspected.
        _handler_module().logger.registered_handler.stream = sys.stdout
        result, error = None, None
        try:
            result = load_handler()(payload, LocalContext(timeout_seconds=timeout))
        except Exception as exc:  # recorded; the test inspects it
            error = exc
        captured = self.capfd.readouterr()
        invocation = Invocation(result, error, captured.out + captured.err)
        self.invocations.append(invocation)
        assert_no_secret_in(invocation.texts(), self.secrets())
        return invocation

    def secrets(self) -> list[str]:
        """Every PAT and token in play, and the parts of each JWT."""
        known = [PAT, OTHER_PAT, *self.standin.issued_tokens]
        parts = [part for token in known for part in token.split(".") if len(part) > 8]
        return known + parts


def assert_no_secret_in(texts: list[str], secrets: list[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a PAT or token leaked into output or errors"


@pytest.fixture
def deployment(
    secretsmanager: Any,
    standin: Matrix42StandIn,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    """Both secrets as a fresh stack creates them, the PAT put, the stand-in reset."""
    standin.reset()
    secretsmanager.create_secret(Name=PAT_SECRET, SecretString=json.dumps({"pat": PAT}))
    secretsmanager.create_secret(Name=TOKEN_SECRET, SecretString=PLACEHOLDER_RECORD)
    monkeypatch.setenv("PAT_SECRET_ID", PAT_SECRET)
    monkeypatch.setenv("TOKEN_SECRET_ID", TOKEN_SECRET)
    monkeypatch.setenv("EXCHANGE_URL", standin.exchange_url)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    return Deployment(secretsmanager, standin, capfd, monkeypatch)
