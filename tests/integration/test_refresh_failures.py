"""Every bad input fails the invocation with a clear error and leaves the token
secret exactly as it was."""

from __future__ import annotations

import json
import socket

import pytest

from refresher.errors import (
    ConfigError,
    ExchangeAnswerError,
    ExchangeRefusedError,
    ExchangeUnavailableError,
    SecretReadError,
    TokenVerifyError,
)
from tests.integration.conftest import PAT_SECRET, Deployment


def assert_failed_and_unchanged(
    deployment: Deployment, event: str | dict, error: type, match: str, **kwargs
) -> None:
    before = deployment.current_token_secret()

    invocation = deployment.invoke(event, **kwargs)

    assert invocation.result is None
    assert isinstance(invocation.error, error), repr(invocation.error)
    assert match in str(invocation.error)
    assert deployment.current_token_secret() == before
    assert '"RefreshFailed":[1.0]' in invocation.output


@pytest.mark.parametrize(
    ("secret_string", "match"),
    [
        ("   \n", "empty PAT"),
        ('{"pat": ""}', "empty PAT"),
        ('{"pat": "  "}', "empty PAT"),
        ('{"token": "abc"}', "without a string 'pat' key"),
        ('{"pat": 12345}', "without a string 'pat' key"),
        ('["m42pat"]', "neither a string nor a JSON object"),
        ("null", "neither a string nor a JSON object"),
        ('{"pat": "m42pat', "looks like JSON but does not parse"),
        ("two words", "cannot be sent in an HTTP header"),
    ],
)
def test_unusable_pat_secret_fails_with_cause_and_fix(
    deployment: Deployment, secret_string: str, match: str
):
    deployment.put_pat(secret_string)

    assert_failed_and_unchanged(deployment, "scheduled", SecretReadError, match)
    assert deployment.standin.exchange_count == 0


def test_unusable_pat_error_tells_how_to_put_it(deployment: Deployment):
    deployment.put_pat('{"pat": ""}')

    error = deployment.invoke("scheduled").error

    assert f"put-secret-value --secret-id {PAT_SECRET}" in str(error)


def test_binary_pat_secret_fails(deployment: Deployment):
    deployment.client.put_secret_value(SecretId=PAT_SECRET, SecretBinary=b"\x00\x01")

    assert_failed_and_unchanged(deployment, "scheduled", SecretReadError, "binary")


def test_missing_pat_secret_fails_naming_it(deployment: Deployment):
    deployment.client.delete_secret(
        SecretId=PAT_SECRET, ForceDeleteWithoutRecovery=True
    )

    assert_failed_and_unchanged(
        deployment, "scheduled", SecretReadError, "PAT secret 'matrix42/pat'"
    )


def test_wrong_pat_secret_id_fails_naming_setting(deployment: Deployment):
    deployment.configure(PAT_SECRET_ID="matrix42/no-such-secret")

    assert_failed_and_unchanged(
        deployment, "scheduled", SecretReadError, "check the secret id setting"
    )


@pytest.mark.parametrize(
    ("behaviour", "error", "match"),
    [
        ("unauthorized", ExchangeRefusedError, "refused the PAT (HTTP 401)"),
        ("forbidden", ExchangeRefusedError, "refused the PAT (HTTP 403)"),
        ("not_acceptable", ExchangeRefusedError, "refused the PAT (HTTP 406)"),
        ("null", ExchangeRefusedError, "answered null"),
        ("not_json", ExchangeAnswerError, "not JSON"),
        ("html", ExchangeAnswerError, "an HTML page"),
        ("no_raw_token", ExchangeAnswerError, "without a RawToken"),
        ("empty_raw_token", ExchangeAnswerError, "empty RawToken"),
        ("non_string_raw_token", ExchangeAnswerError, "not a string"),
        ("bad_header_token", ExchangeAnswerError, "cannot be sent as a bearer"),
        ("expired", ExchangeAnswerError, "already expired"),
        ("redirect", ExchangeAnswerError, "redirect (HTTP 302)"),
        ("oversize", ExchangeAnswerError, "more than 65536 bytes"),
    ],
)
def test_refusal_or_malformed_answer_fails_without_retry(
    deployment: Deployment, behaviour: str, error: type, match: str
):
    deployment.invoke("scheduled")
    deployment.standin.queue(behaviour)

    assert_failed_and_unchanged(deployment, "force-refresh", error, match)
    assert deployment.standin.exchange_count == 2  # one success, one failure
    assert not any(r.path == "/login" for r in deployment.standin.requests)


def test_unknown_pat_is_refused(deployment: Deployment):
    deployment.put_pat("m42pat-NotKnownToMatrix42")

    assert_failed_and_unchanged(
        deployment, "scheduled", ExchangeRefusedError, "HTTP 401"
    )


def test_exchange_timeout_fails_within_time_budget(deployment: Deployment):
    deployment.standin.queue("stall:6")

    # 8 s of Lambda time; 1 s is kept for the end and 4 s for one write attempt,
    # so the exchange's read times out after about 3 s.
    assert_failed_and_unchanged(
        deployment, "scheduled", ExchangeUnavailableError, "timed out", timeout=8
    )
    assert deployment.standin.exchange_count == 1


def test_refused_connection_fails_after_retries(deployment: Deployment):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    deployment.configure(EXCHANGE_URL=f"http://127.0.0.1:{port}/exchange")

    assert_failed_and_unchanged(
        deployment,
        "scheduled",
        ExchangeUnavailableError,
        "connection failed or was refused",
        timeout=8,
    )


def test_persistent_server_errors_give_up_with_cause(deployment: Deployment):
    deployment.standin.queue(*["unavailable"] * 10)

    invocation = deployment.invoke("scheduled", timeout=8)

    assert isinstance(invocation.error, ExchangeUnavailableError)
    assert "HTTP 503" in str(invocation.error)
    assert 1 < deployment.standin.exchange_count < 10


def test_verify_url_refusing_token_blocks_publication(deployment: Deployment):
    # The ESM path answers GET with 405: the token is not accepted there.
    deployment.configure(VERIFY_URL=deployment.standin.esm_exchange_url)

    assert_failed_and_unchanged(deployment, "scheduled", TokenVerifyError, "HTTP 405")


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("PAT_SECRET_ID", "", "PAT_SECRET_ID is not set"),
        ("TOKEN_SECRET_ID", " ", "TOKEN_SECRET_ID is not set"),
        ("EXCHANGE_URL", "http://accounts.example.com/x", "must use https"),
        ("EXCHANGE_URL", "ftp://127.0.0.1/x", "must be an https:// URL"),
        ("EXCHANGE_URL", "https://user:pw@example.com/x", "must not carry credentials"),
        ("EXCHANGE_METHOD", "PUT", "EXCHANGE_METHOD must be GET"),
        ("REFRESH_BEFORE_EXPIRY_SECONDS", "30m", "whole number of seconds"),
        ("REFRESH_BEFORE_EXPIRY_SECONDS", "0", "between 1 and"),
        ("VERIFY_URL", "http://example.com/check", "VERIFY_URL must use https"),
    ],
)
def test_bad_setting_fails_naming_it(
    deployment: Deployment, name: str, value: str, match: str
):
    deployment.configure(**{name: value})

    assert_failed_and_unchanged(deployment, "scheduled", ConfigError, match)
    assert deployment.standin.exchange_count == 0


@pytest.mark.parametrize("event", [{"force": "yes"}, {"dry_run": 1}])
def test_bad_event_flag_fails_naming_it(deployment: Deployment, event: dict):
    assert_failed_and_unchanged(deployment, event, ConfigError, "must be true or false")


def test_unreadable_record_is_replaced(deployment: Deployment):
    deployment.put_record(json.dumps({"token": "not valid!", "expires_at": None}))

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert invocation.result["reason"] == "no_usable_record"
