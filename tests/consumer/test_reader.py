"""TokenReader against moto's server, with records the real refresher publishes."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest

from matrix42_token import (
    Matrix42Auth,
    TokenConfigError,
    TokenExpiredError,
    TokenReader,
    TokenReadError,
    TokenRecordError,
)
from matrix42_token.reader import RECHECK_SECONDS
from tests.consumer.conftest import FakeClock, ReadCounter, publish, record_json
from tests.integration.conftest import TOKEN_SECRET, Deployment

REFRESH_AHEAD = 60.0


def make_reader(reads: ReadCounter, clock: FakeClock, **options: float) -> TokenReader:
    options.setdefault("refresh_ahead", REFRESH_AHEAD)
    return TokenReader(TOKEN_SECRET, client=reads.client, clock=clock, **options)


def expiry_of(reader: TokenReader) -> datetime:
    """The expiry of the token the reader holds; reads it if none is cached."""
    expires_at = reader.get_record().expires_at
    assert expires_at is not None
    return expires_at


def test_reader_second_call_served_from_cache_without_read(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    token = publish(deployment)
    reader = make_reader(reads, clock)

    first, second = reader.get_token(), reader.get_token()

    assert first == second == token
    assert reads.calls == 1


@pytest.mark.parametrize(
    ("seconds_before_expiry", "expected_reads"),
    [(REFRESH_AHEAD + 1, 1), (REFRESH_AHEAD - 1, 2), (1, 2)],
)
def test_reader_near_expiry_reads_again(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    seconds_before_expiry: float,
    expected_reads: int,
):
    publish(deployment)
    reader = make_reader(reads, clock)
    expires_at = expiry_of(reader)

    clock.move_to(expires_at - timedelta(seconds=seconds_before_expiry))
    reader.get_token()

    assert reads.calls == expected_reads


def test_reader_refresh_read_refresh_read_returns_new_token(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    # GIVEN the refresher published a token and the reader has it cached
    first = publish(deployment)
    reader = make_reader(reads, clock)
    assert reader.get_token() == first
    expires_at = expiry_of(reader)

    # WHEN the refresher publishes a newer one
    second = publish(deployment)

    # THEN the cached token is served until it nears expiry, then the new one
    assert second != first
    assert reader.get_token() == first
    clock.move_to(expires_at - timedelta(seconds=REFRESH_AHEAD - 1))
    assert reader.get_token() == second
    assert reads.calls == 2


def test_reader_invalidate_reads_new_token_on_next_call(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    first = publish(deployment)
    reader = make_reader(reads, clock)
    reader.get_token()
    second = publish(deployment)

    reader.invalidate()

    assert reader.get_token() == second != first
    assert reads.calls == 2


def test_reader_invalidate_other_token_keeps_cache(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    token = publish(deployment)
    reader = make_reader(reads, clock)
    reader.get_token()

    reader.invalidate("a-token-someone-else-saw-refused")

    assert reader.get_token() == token
    assert reads.calls == 1


def test_reader_concurrent_callers_cause_one_read(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    token = publish(deployment)
    reader = make_reader(reads, clock)
    threads = 24
    start = threading.Barrier(threads)

    def ask(_: int) -> str:
        start.wait(timeout=5)
        return reader.get_token()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        tokens = list(pool.map(ask, range(threads)))

    assert tokens == [token] * threads
    assert reads.calls == 1


@pytest.mark.parametrize(
    ("secret_string", "match"),
    [
        ('{"token": null, "expires_at": null}', "no token yet"),
        ("{}", "no token yet"),
        ('{"token": "", "expires_at": null}', "no token yet"),
        ("not json", "does not hold JSON"),
        ('["eyJ.a.b"]', "not an object"),
        ('{"token": "two words"}', "not a valid bearer token"),
        ('{"token": "eyJ.a.b", "expires_at": "tomorrow"}', "expires_at is not"),
        ('{"token": "eyJ.a.b", "token_type": "Basic"}', "not Bearer"),
    ],
)
def test_reader_unusable_record_raises_record_error_naming_secret(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    secret_string: str,
    match: str,
):
    deployment.put_record(secret_string)
    reader = make_reader(reads, clock)

    with pytest.raises(TokenRecordError, match=match) as raised:
        reader.get_token()

    assert TOKEN_SECRET in str(raised.value)
    assert not isinstance(raised.value, TokenExpiredError)


def test_reader_stack_placeholder_says_nothing_published_yet(deployment: Deployment):
    # The token secret exactly as a new stack creates it; default client and id.
    reader = TokenReader()

    with pytest.raises(TokenRecordError, match="none has been published"):
        reader.get_token()


def test_reader_expired_record_raises_expired_error(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    deployment.put_record(record_json("eyJ.expired.token", -30, clock.now))
    reader = make_reader(reads, clock)

    with pytest.raises(TokenExpiredError, match=r"expired at .* refresher"):
        reader.get_token()

    assert reads.calls == 1


def test_reader_cached_token_past_expiry_rereads_once_then_raises_expired(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    # GIVEN a cached token, and a refresher that has stopped publishing
    publish(deployment)
    reader = make_reader(reads, clock)
    expires_at = expiry_of(reader)

    # WHEN the local clock passes the token's expiry
    clock.move_to(expires_at + timedelta(seconds=1))

    # THEN the reader reads once more, and refuses to hand out the stale token
    with pytest.raises(TokenExpiredError):
        reader.get_token()
    assert reads.calls == 2


def test_reader_near_expiry_without_newer_token_rechecks_after_a_few_seconds(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
):
    publish(deployment)
    reader = make_reader(reads, clock)
    expires_at = expiry_of(reader)
    clock.move_to(expires_at - timedelta(seconds=REFRESH_AHEAD / 2))

    reader.get_token()
    clock.advance(RECHECK_SECONDS - 1)
    reader.get_token()
    assert reads.calls == 2
    clock.advance(1)
    reader.get_token()

    assert reads.calls == 3
    assert "is the refresher running?" in caplog.text


def test_reader_record_without_expiry_cached_for_fallback_ttl(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    deployment.put_record(record_json("eyJ.no.expiry", None, clock.now))
    reader = make_reader(reads, clock, fallback_ttl=300)

    reader.get_token()
    clock.advance(299)
    reader.get_token()
    assert reads.calls == 1
    clock.advance(1)
    reader.get_token()

    assert reads.calls == 2


def test_reader_without_secret_id_raises_config_error_naming_variable(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("TOKEN_SECRET_ID", raising=False)

    with pytest.raises(TokenConfigError, match="TOKEN_SECRET_ID"):
        TokenReader()


def test_reader_secret_id_argument_wins_over_environment(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("TOKEN_SECRET_ID", "from-environment")

    assert TokenReader("from-argument").secret_id == "from-argument"
    assert TokenReader().secret_id == "from-environment"


def test_reader_missing_secret_raises_read_error_with_hint(
    deployment: Deployment, reads: ReadCounter
):
    reader = TokenReader("matrix42/no-such-secret", client=reads.client)

    with pytest.raises(TokenReadError, match=r"ResourceNotFoundException.*TOKEN_SEC"):
        reader.get_token()


def test_reader_makes_its_client_on_first_read_not_before(
    monkeypatch: pytest.MonkeyPatch,
):
    # No region: making a client would fail, so constructing must not make one.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    reader = TokenReader("matrix42/bearer-token")

    with pytest.raises(TokenReadError, match="region"):
        reader.get_token()


@pytest.mark.parametrize(
    "options",
    [
        {"refresh_ahead": -1},
        {"refresh_ahead": float("nan")},
        {"fallback_ttl": 0},
        {"fallback_ttl": float("inf")},
    ],
)
def test_reader_bad_timing_option_raises_value_error(options: dict[str, float]):
    with pytest.raises(ValueError, match=next(iter(options))):
        TokenReader("matrix42/bearer-token", **options)


@pytest.mark.parametrize(
    "options",
    [
        {"refresh_ahead": 1e15},
        {"fallback_ttl": 1e15},
        {"refresh_ahead": 366 * 86400},
        {"fallback_ttl": 366 * 86400},
        {"refresh_ahead": 10**400},
        {"refresh_ahead": "60"},
        {"fallback_ttl": True},
        {"refresh_ahead": float("nan")},
    ],
)
def test_reader_timing_option_beyond_a_year_raises_value_error_naming_it(
    options: dict[str, float],
):
    with pytest.raises(ValueError, match=next(iter(options))):
        TokenReader("matrix42/bearer-token", **options)


class KeepRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def root_logger_at_debug() -> Iterator[list[logging.LogRecord]]:
    """What AWS_LAMBDA_LOG_LEVEL=DEBUG or basicConfig(level=DEBUG) sets up, with
    botocore's loggers as a consumer's process has them (the refresher's app, loaded
    by the fixtures, raises them); every record is kept."""
    root = logging.getLogger()
    names = ("botocore", "botocore.parsers", "botocore.endpoint")
    botocore_loggers = [logging.getLogger(name) for name in names]
    saved = root.level, [each.level for each in botocore_loggers]
    handler = KeepRecords()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for each in botocore_loggers:
        each.setLevel(logging.NOTSET)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for each, level in zip(botocore_loggers, saved[1], strict=True):
            each.setLevel(level)


def test_reader_with_root_logger_at_debug_logs_no_token(deployment: Deployment):
    token = publish(deployment)

    with root_logger_at_debug() as records:
        assert TokenReader(TOKEN_SECRET).get_token() == token

    lines = [logging.Formatter("%(name)s %(message)s").format(r) for r in records]
    debug = [r for r in records if r.levelno == logging.DEBUG]
    assert any(r.name.startswith("botocore") for r in debug)
    assert [line for line in lines if token in line] == []


def test_reader_reprs_errors_and_logs_never_contain_token(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG, logger="matrix42_token")
    token = publish(deployment)
    reader = make_reader(reads, clock)
    record = reader.get_record()
    clock.move_to(record.expires_at - timedelta(seconds=1))
    reader.get_token()
    reader.invalidate()
    clock.move_to(record.expires_at)
    with pytest.raises(TokenExpiredError) as raised:
        reader.get_token()

    texts = [caplog.text, repr(reader), repr(record), str(raised.value)]
    texts.append(repr(Matrix42Auth(reader)))
    assert record.fingerprint in caplog.text
    for text in texts:
        assert token not in text
        assert all(part not in text for part in token.split("."))


def test_package_import_leaves_requests_unimported():
    probe = "import sys, matrix42_token; print('requests' in sys.modules)"

    answer = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert answer.stdout.strip() == "False"


def test_reader_unreadable_secret_near_expiry_serves_cached_token_until_expiry(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock, caplog
):
    token = publish(deployment)
    reader = make_reader(reads, clock)
    expires_at = expiry_of(reader)
    deployment.client.delete_secret(
        SecretId=TOKEN_SECRET, ForceDeleteWithoutRecovery=True
    )

    clock.move_to(expires_at - timedelta(seconds=30))
    with caplog.at_level(logging.WARNING, logger="matrix42_token.reader"):
        served = reader.get_token()

    assert served == token
    assert "serving cached token" in caplog.text
    assert token not in caplog.text
    clock.move_to(expires_at + timedelta(seconds=1))
    with pytest.raises(TokenReadError, match="ResourceNotFoundException"):
        reader.get_token()
