"""The refresh policy end to end: moto's server and the stand-in over loopback HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from matrix42_token.record import TokenRecord, parse_timestamp
from tests.integration.conftest import OTHER_PAT, PAT, Deployment


def test_scheduled_run_without_record_publishes_token(deployment: Deployment):
    before = datetime.now(UTC)

    invocation = deployment.invoke("scheduled")

    assert invocation.error is None
    assert invocation.result["status"] == "refreshed"
    assert invocation.result["reason"] == "no_usable_record"
    record = deployment.current_record()
    assert record["token"] == deployment.standin.issued_tokens[-1]
    assert record["token_type"] == "Bearer"
    expires_at = parse_timestamp(record["expires_at"])
    assert timedelta(minutes=59) < expires_at - before < timedelta(minutes=61)
    assert invocation.result["expires_at"] == record["expires_at"]
    assert (
        invocation.result["fingerprint"]
        == TokenRecord.from_json(json.dumps(record)).fingerprint
    )


def test_exchange_request_carries_pat_and_accepts_json(deployment: Deployment):
    deployment.invoke("scheduled")

    request = deployment.standin.requests[-1]
    assert request.method == "GET"
    assert request.header("Authorization") == f"Bearer {PAT}"
    assert request.header("Accept") == "application/json"
    assert request.body == b""


def test_fresh_token_is_skipped_without_exchange(deployment: Deployment):
    deployment.invoke("scheduled")
    published = deployment.current_token_secret()

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "skipped"
    assert invocation.result["reason"] == "fresh"
    assert deployment.standin.exchange_count == 1
    assert deployment.current_token_secret() == published
    assert invocation.result["seconds_to_expiry"] > 3500


def test_token_near_expiry_is_refreshed(deployment: Deployment):
    deployment.standin.token_lifetime = 1200  # inside the default 1800 s margin
    deployment.invoke("scheduled")
    first = deployment.current_record()["token"]

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert invocation.result["reason"] == "expiring"
    assert deployment.current_record()["token"] != first
    assert "more often than AWS advises" in invocation.output


def test_changed_pat_is_exchanged_before_token_expires(deployment: Deployment):
    deployment.invoke("scheduled")
    deployment.put_pat(json.dumps({"pat": OTHER_PAT}))

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert invocation.result["reason"] == "pat_changed"
    assert deployment.standin.requests[-1].header("Authorization") == (
        f"Bearer {OTHER_PAT}"
    )


def test_force_refreshes_fresh_token(deployment: Deployment):
    deployment.invoke("scheduled")

    invocation = deployment.invoke("force-refresh")

    assert invocation.result["status"] == "refreshed"
    assert invocation.result["reason"] == "forced"
    assert deployment.standin.exchange_count == 2
    assert deployment.version_count() == 3  # placeholder, first token, second token


def test_dry_run_exchanges_but_publishes_nothing(deployment: Deployment):
    before = deployment.current_token_secret()

    invocation = deployment.invoke("dry-run")

    assert invocation.result["status"] == "dry_run"
    assert invocation.result["would_refresh"] is True
    assert invocation.result["fingerprint"] is not None
    assert deployment.standin.exchange_count == 1
    assert deployment.current_token_secret() == before


def test_repeated_scheduled_runs_create_one_version(deployment: Deployment):
    for _ in range(3):
        deployment.invoke("scheduled")

    assert deployment.standin.exchange_count == 1
    assert deployment.version_count() == 2  # the placeholder and one token


def test_esm_post_exchange_reads_lifetime(deployment: Deployment):
    deployment.configure(
        EXCHANGE_URL=deployment.standin.esm_exchange_url, EXCHANGE_METHOD="POST"
    )

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert deployment.standin.requests[-1].method == "POST"
    assert invocation.result["expires_at"] is not None


def test_token_without_expiry_is_published_with_null_expiry(deployment: Deployment):
    deployment.standin.queue("no_exp")

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert deployment.current_record()["expires_at"] is None
    assert deployment.invoke("scheduled").result["reason"] == "fresh"


def test_pat_with_surrounding_whitespace_is_trimmed(deployment: Deployment):
    deployment.put_pat(f"  {PAT}\n")

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert deployment.standin.requests[-1].header("Authorization") == f"Bearer {PAT}"


def test_verify_url_accepting_token_lets_it_publish(deployment: Deployment):
    deployment.configure(VERIFY_URL=deployment.standin.verify_url)

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    verify = deployment.standin.requests[-1]
    assert verify.path == "/mpl-api/Check"
    assert verify.header("Authorization") == (
        f"Bearer {deployment.current_record()['token']}"
    )


def test_transient_failures_are_retried_then_published(deployment: Deployment):
    deployment.standin.queue("unavailable", "close", "ok")

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert deployment.standin.exchange_count == 3


def test_throttling_honours_retry_after(deployment: Deployment):
    deployment.standin.queue("throttled:1", "ok")
    started = datetime.now(UTC)

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert datetime.now(UTC) - started >= timedelta(seconds=1)
    assert deployment.standin.exchange_count == 2
