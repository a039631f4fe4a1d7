"""Secrets Manager misbehaving at the wire: errors, throttling, slowness, clock skew
and two refreshes at once.

The fault proxy sits between the handler's boto3 client and moto's server, so
botocore's own retry, timeout and error parsing run. The test reads the token secret
from moto directly, past the proxy, to see what really was published.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from matrix42_token.record import TokenRecord
from refresher.answer import read_jwt_expiry
from refresher.errors import OutOfTimeError, SecretReadError, SecretWriteError
from scripts.invoke import LocalContext, load_handler
from scripts.local_aws import MotoServer
from scripts.matrix42_standin import make_jwt
from tests.integration.conftest import (
    PAT_SECRET,
    TOKEN_SECRET,
    Deployment,
    Invocation,
    assert_no_secret_in,
    load_event,
)
from tests.support.aws_fault_proxy import (
    ERROR_STATUS,
    KMS_ACCESS_DENIED_MESSAGE,
    AwsFaultProxy,
)

BATCH_READ = "BatchGetSecretValue"
WRITE = "PutSecretValue"
TEN_MINUTES = 600


def _app() -> Any:
    load_handler()
    import app

    return app


@pytest.fixture
def proxy(
    deployment: Deployment, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AwsFaultProxy]:
    """The fault proxy between the handler and moto; the secrets exist already."""
    with AwsFaultProxy(moto_server.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", proxy.url)
        # The handler keeps its client while warm: make it build one for the proxy.
        _app()._secrets_client.cache_clear()
        yield proxy
    _app()._secrets_client.cache_clear()


@pytest.fixture
def direct_client(moto_server: MotoServer) -> Iterator[tuple[AwsFaultProxy, Any]]:
    """A proxy over an empty moto and a boto3 client that sends through it once."""
    moto_server.reset()
    with AwsFaultProxy(moto_server.url) as proxy:
        config = Config(retries={"mode": "standard", "total_max_attempts": 1})
        client = boto3.client("secretsmanager", endpoint_url=proxy.url, config=config)
        client.create_secret(Name="probe", SecretString="value")
        proxy.reset()
        yield proxy, client


def assert_failed_and_unchanged(
    deployment: Deployment,
    event: str | dict,
    error: type,
    *matches: str,
    timeout: float = 20.0,
) -> Invocation:
    before = deployment.current_token_secret()

    invocation = deployment.invoke(event, timeout=timeout)

    assert invocation.result is None
    assert isinstance(invocation.error, error), repr(invocation.error)
    for match in matches:
        assert match in str(invocation.error)
    assert deployment.current_token_secret() == before
    assert '"RefreshFailed":[1.0]' in invocation.output
    return invocation


def assert_holds_issued_record(deployment: Deployment) -> TokenRecord:
    """The token secret holds a whole record of a token the stand-in issued."""
    record = TokenRecord.from_json(deployment.current_token_secret()["SecretString"])
    assert record.token in deployment.standin.issued_tokens
    assert record.expires_at == read_jwt_expiry(record.token)
    return record


def pat_version_id(deployment: Deployment) -> str:
    return deployment.client.get_secret_value(SecretId=PAT_SECRET)["VersionId"]


# The proxy itself: what botocore sees from it.


def test_proxy_fail_answers_each_code_as_botocore_parses_it(direct_client):
    proxy, client = direct_client

    seen = []
    for code in sorted(ERROR_STATUS):
        proxy.fail("GetSecretValue", code, message=f"made up: {code}")
        with pytest.raises(ClientError) as raised:
            client.get_secret_value(SecretId="probe")
        response = raised.value.response
        seen.append((code, response["Error"]["Code"], response["Error"]["Message"]))
        assert response["ResponseMetadata"]["HTTPStatusCode"] == ERROR_STATUS[code]

    assert seen == [(code, code, f"made up: {code}") for code in sorted(ERROR_STATUS)]
    assert client.get_secret_value(SecretId="probe")["SecretString"] == "value"
    assert proxy.calls == ["GetSecretValue"] * (len(ERROR_STATUS) + 1)


def test_proxy_fail_times_counts_then_forwards(direct_client):
    proxy, client = direct_client
    proxy.fail("GetSecretValue", "AccessDeniedException", times=2)

    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(client.get_secret_value(SecretId="probe")["SecretString"])
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    assert outcomes == ["AccessDeniedException", "AccessDeniedException", "value"]


def test_proxy_cut_closes_without_answer(direct_client):
    proxy, client = direct_client
    proxy.cut("GetSecretValue")

    with pytest.raises(ConnectionClosedError):
        client.get_secret_value(SecretId="probe")
    assert proxy.calls == ["GetSecretValue"]


def test_proxy_fail_secret_moves_secret_to_batch_errors(direct_client):
    proxy, client = direct_client
    client.create_secret(Name="other", SecretString="other value")
    proxy.fail_secret("probe", "DecryptionFailure")

    answer = client.batch_get_secret_value(SecretIdList=["probe", "other"])

    assert [value["Name"] for value in answer["SecretValues"]] == ["other"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in answer["Errors"]] == [
        ("probe", "DecryptionFailure")
    ]


@pytest.mark.parametrize("shift", [TEN_MINUTES, -TEN_MINUTES])
def test_proxy_shift_date_moves_answer_date(direct_client, shift: int):
    proxy, client = direct_client
    proxy.shift_date(shift)

    answer = client.get_secret_value(SecretId="probe")

    date = parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"])
    assert abs((date - datetime.now(UTC)).total_seconds() - shift) < 3


# Throttling and permanent errors.


def test_batch_read_throttled_twice_is_absorbed_by_retries(
    deployment: Deployment, proxy: AwsFaultProxy
):
    proxy.fail(BATCH_READ, "ThrottlingException", times=2)

    invocation = deployment.invoke("scheduled")

    assert invocation.error is None, repr(invocation.error)
    assert invocation.result["status"] == "refreshed"
    assert proxy.calls == [BATCH_READ, BATCH_READ, BATCH_READ, WRITE]
    assert_holds_issued_record(deployment)


@pytest.mark.parametrize(
    ("code", "message", "hint"),
    [
        ("AccessDeniedException", None, "secretsmanager:BatchGetSecretValue"),
        ("DecryptionFailure", None, "kms:Decrypt"),
    ],
)
def test_batch_read_refused_fails_naming_permission(
    deployment: Deployment,
    proxy: AwsFaultProxy,
    code: str,
    message: str | None,
    hint: str,
):
    proxy.fail(BATCH_READ, code, times=None, message=message)

    invocation = assert_failed_and_unchanged(
        deployment, "scheduled", SecretReadError, PAT_SECRET, code, hint
    )

    assert invocation.error.aws_error_code == code
    assert deployment.standin.exchange_count == 0
    assert WRITE not in proxy.calls


@pytest.mark.parametrize(
    ("secret_id", "code", "message", "hint"),
    [
        (PAT_SECRET, "DecryptionFailure", None, "kms:Decrypt"),
        (PAT_SECRET, "AccessDeniedException", KMS_ACCESS_DENIED_MESSAGE, "kms:Decrypt"),
        (TOKEN_SECRET, "AccessDeniedException", None, "secretsmanager:GetSecretValue"),
    ],
)
def test_one_secret_unreadable_in_batch_fails_naming_it(
    deployment: Deployment,
    proxy: AwsFaultProxy,
    secret_id: str,
    code: str,
    message: str | None,
    hint: str,
):
    proxy.fail_secret(secret_id, code, times=None, message=message)

    invocation = assert_failed_and_unchanged(
        deployment, "scheduled", SecretReadError, secret_id, code, hint
    )

    assert invocation.error.aws_error_code == code
    assert deployment.standin.exchange_count == 0


@pytest.mark.parametrize(
    ("code", "message", "hint"),
    [
        ("AccessDeniedException", None, "secretsmanager:PutSecretValue"),
        ("AccessDeniedException", KMS_ACCESS_DENIED_MESSAGE, "kms:GenerateDataKey"),
        ("EncryptionFailure", None, "kms:GenerateDataKey"),
        ("ResourceNotFoundException", None, "does not exist"),
        ("InvalidRequestException", None, "restore-secret"),
    ],
)
def test_write_refused_fails_naming_permission_or_state(
    deployment: Deployment,
    proxy: AwsFaultProxy,
    code: str,
    message: str | None,
    hint: str,
):
    proxy.fail(WRITE, code, times=None, message=message)

    invocation = assert_failed_and_unchanged(
        deployment, "scheduled", SecretWriteError, TOKEN_SECRET, code, hint
    )

    assert invocation.error.aws_error_code == code
    assert deployment.standin.exchange_count == 1
    assert proxy.calls.count(WRITE) == 1  # a refusal is not retried


def test_write_failing_after_exchange_publishes_nothing_then_next_run_does(
    deployment: Deployment, proxy: AwsFaultProxy
):
    proxy.fail(WRITE, "InternalServiceError", times=None)

    failed = assert_failed_and_unchanged(
        deployment, "scheduled", SecretWriteError, TOKEN_SECRET, "InternalServiceError"
    )
    proxy.reset()
    invocation = deployment.invoke("scheduled")

    assert failed.error.aws_error_code == "InternalServiceError"
    assert deployment.standin.exchange_count >= 1
    assert invocation.result["status"] == "refreshed"
    record = assert_holds_issued_record(deployment)
    assert invocation.result["fingerprint"] == record.fingerprint


def test_version_quota_fails_with_advice_and_metric(
    deployment: Deployment, proxy: AwsFaultProxy
):
    proxy.fail(WRITE, "LimitExceededException", times=None)

    invocation = assert_failed_and_unchanged(
        deployment,
        "scheduled",
        SecretWriteError,
        TOKEN_SECRET,
        "LimitExceededException",
        "versions",
    )

    assert invocation.error.aws_error_code == "LimitExceededException"
    assert '"VersionQuotaExceeded":[1.0]' in invocation.output


# Time: a slow Secrets Manager, and little time left.


def test_slow_write_stops_before_timeout_leaving_whole_record(
    deployment: Deployment, proxy: AwsFaultProxy
):
    # The write lands in Secrets Manager, but its answer never comes in time.
    proxy.delay(WRITE, 20, times=None, forward_first=True)
    before = deployment.current_token_secret()
    timeout = 8.0

    started = time.monotonic()
    invocation = deployment.invoke("scheduled", timeout=timeout)
    elapsed = time.monotonic() - started

    assert isinstance(invocation.error, OutOfTimeError | SecretWriteError)
    assert elapsed < timeout
    assert '"RefreshFailed":[1.0]' in invocation.output
    landed = deployment.current_token_secret() != before
    if landed:
        assert_holds_issued_record(deployment)
    # Once Secrets Manager answers in time again, the next run finds a whole record.
    proxy.reset()
    after = deployment.invoke("scheduled")
    assert after.error is None, repr(after.error)
    assert after.result["status"] == ("skipped" if landed else "refreshed")
    assert_holds_issued_record(deployment)


def test_little_time_left_fails_before_exchange(
    deployment: Deployment, proxy: AwsFaultProxy
):
    timeout = 2.0

    started = time.monotonic()
    invocation = assert_failed_and_unchanged(
        deployment, "scheduled", OutOfTimeError, timeout=timeout
    )
    elapsed = time.monotonic() - started

    assert elapsed < timeout
    assert re.search(r"\d(\.\d+)? ?s\b", str(invocation.error))
    assert deployment.standin.exchange_count == 0
    assert WRITE not in proxy.calls


# Two refreshes at once.


def invoke_together(deployment: Deployment, event: dict, count: int = 2) -> list:
    """Start ``count`` invocations at the same moment; their results or errors."""
    handler = load_handler()
    app = _app()
    # Warm, as Lambda is after the first call: boto3 does not create clients
    # thread-safely, but a created client may be shared between threads.
    app._secrets_client()
    app.logger.registered_handler.stream = sys.stdout
    start = threading.Barrier(count)

    def run() -> Any:
        start.wait()
        try:
            return handler(dict(event), LocalContext(timeout_seconds=20))
        except Exception as exc:  # returned; the test inspects it
            return exc

    deployment.capfd.readouterr()
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(run) for _ in range(count)]
        outcomes = [future.result(timeout=30) for future in futures]
    captured = deployment.capfd.readouterr()
    texts = [captured.out, captured.err, *map(repr, outcomes)]
    assert_no_secret_in(texts, deployment.secrets())
    return outcomes


def test_two_forced_refreshes_at_once_leave_latest_token(
    deployment: Deployment, proxy: AwsFaultProxy
):
    # Run side by side, the first exchange is answered late (so its token expires
    # later) and the other run's write is held back: that older token would land
    # last, over the newer one. Run one after the other, nothing is out of order.
    deployment.standin.queue("stall:1")
    proxy.delay(WRITE, 1.5)

    outcomes = invoke_together(deployment, {"force": True})

    assert [type(o) for o in outcomes] == [dict, dict], outcomes
    assert [o["status"] for o in outcomes] == ["refreshed", "refreshed"]
    record = assert_holds_issued_record(deployment)
    issued = deployment.standin.issued_tokens
    assert record.expires_at == max(read_jwt_expiry(token) for token in issued)


def test_two_scheduled_refreshes_at_once_exchange_once(
    deployment: Deployment, proxy: AwsFaultProxy
):
    outcomes = invoke_together(deployment, load_event("scheduled"))

    assert [type(o) for o in outcomes] == [dict, dict], outcomes
    assert sorted(o["status"] for o in outcomes) == ["refreshed", "skipped"]
    assert deployment.standin.exchange_count == 1
    record = assert_holds_issued_record(deployment)
    assert record.token == deployment.standin.issued_tokens[0]


# A host clock that is off: AWS and Matrix42 agree with each other, not with us.


def skew_world(deployment: Deployment, proxy: AwsFaultProxy, offset: int) -> None:
    """The world's clock is ``offset`` seconds ahead of this host's."""
    proxy.shift_date(offset)
    deployment.standin.clock_offset = offset


def put_record_with_time_left(
    deployment: Deployment, offset: int, seconds_left: int
) -> None:
    world_now = datetime.now(UTC) + timedelta(seconds=offset)
    expires_at = world_now + timedelta(seconds=seconds_left)
    token = make_jwt({"sub": "skew-test", "exp": int(expires_at.timestamp())})
    record = TokenRecord(
        token=token,
        expires_at=expires_at.replace(microsecond=0),
        refreshed_at=(world_now - timedelta(minutes=30)).replace(microsecond=0),
        pat_version_id=pat_version_id(deployment),
    )
    deployment.put_record(record.to_json())


# With a margin of 30 minutes: 25 minutes left is due whichever way the host is
# off, 37 minutes left is not. A host 10 minutes behind would see 35 minutes left
# and skip a due refresh; one 10 minutes ahead would see 27 and refresh early.
@pytest.mark.parametrize("offset", [TEN_MINUTES, -TEN_MINUTES])
@pytest.mark.parametrize(
    ("minutes_left", "status"), [(25, "refreshed"), (37, "skipped")]
)
def test_skewed_host_clock_decides_by_world_clock(
    deployment: Deployment,
    proxy: AwsFaultProxy,
    offset: int,
    minutes_left: int,
    status: str,
):
    deployment.configure(REFRESH_BEFORE_EXPIRY_SECONDS="1800")
    skew_world(deployment, proxy, offset)
    put_record_with_time_left(deployment, offset, minutes_left * 60)

    invocation = deployment.invoke("scheduled")

    assert invocation.error is None, repr(invocation.error)
    assert invocation.result["status"] == status
    assert deployment.standin.exchange_count == (status == "refreshed")


# A token living 5 minutes, issued by a world 10 minutes behind this host, has
# expired by the host's clock before it arrives; by the world's it has not.
@pytest.mark.parametrize("offset", [TEN_MINUTES, -TEN_MINUTES])
def test_skewed_host_clock_accepts_and_publishes_fresh_token(
    deployment: Deployment, proxy: AwsFaultProxy, offset: int
):
    lifetime = 300
    deployment.standin.token_lifetime = lifetime
    skew_world(deployment, proxy, offset)

    invocation = deployment.invoke("force-refresh")

    assert invocation.error is None, repr(invocation.error)
    assert invocation.result["status"] == "refreshed"
    assert lifetime - 30 < invocation.result["seconds_to_expiry"] <= lifetime
    record = assert_holds_issued_record(deployment)
    lived = (record.expires_at - record.refreshed_at).total_seconds()
    assert lifetime - 30 < lived <= lifetime
    assert (
        json.loads(deployment.current_token_secret()["SecretString"])["expires_at"]
        == invocation.result["expires_at"]
    )
