"""Matrix42Auth against the stand-in's check endpoint, which accepts only live tokens
it issued and answers 401 to anything else."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import requests

from matrix42_token import Matrix42Auth, TokenReader
from scripts.matrix42_standin import VERIFY_PATH
from tests.consumer.conftest import FakeClock, ReadCounter, record_json
from tests.integration.conftest import TOKEN_SECRET, Deployment

# Well formed, but the stand-in never issued it, so it answers 401.
REFUSED_TOKEN = "eyJ.refused-by-matrix42.token"


class OneShotBody:
    """A request body that can be read once and not rewound, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._length = len(data)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        yield self.read()

    def read(self, size: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data


def check_requests(deployment: Deployment) -> list:
    return [r for r in deployment.standin.requests if r.path == VERIFY_PATH]


def reader_holding_refused_token(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
) -> TokenReader:
    """A reader that has cached a token Matrix42 will refuse."""
    deployment.put_record(record_json(REFUSED_TOKEN, 3600, clock.now))
    reader = TokenReader(TOKEN_SECRET, client=reads.client, clock=clock)
    assert reader.get_token() == REFUSED_TOKEN
    return reader


def test_auth_sends_bearer_header_and_reads_once(
    deployment: Deployment, reads: ReadCounter
):
    deployment.invoke("force-refresh")
    token = deployment.current_record()["token"]
    auth = Matrix42Auth(TokenReader(TOKEN_SECRET, client=reads.client))

    for _ in range(3):
        answer = requests.get(deployment.standin.verify_url, auth=auth, timeout=5)
        assert answer.status_code == 200

    sent = [r.header("Authorization") for r in check_requests(deployment)]
    assert sent == [f"Bearer {token}"] * 3
    assert reads.calls == 1


def test_auth_401_with_newer_token_published_rereads_once_and_retries_once(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    # GIVEN a reader holding a token Matrix42 refuses, and a newer one published
    reader = reader_holding_refused_token(deployment, reads, clock)
    deployment.invoke("force-refresh")
    newer = deployment.current_record()["token"]

    # WHEN a request is sent with it
    answer = requests.get(
        deployment.standin.verify_url, auth=Matrix42Auth(reader), timeout=5
    )

    # THEN one more read, one retry with the newer token, and the retry's answer
    assert answer.status_code == 200
    assert [r.status_code for r in answer.history] == [401]
    assert reads.calls == 2
    sent = [r.header("Authorization") for r in check_requests(deployment)]
    assert sent == [f"Bearer {REFUSED_TOKEN}", f"Bearer {newer}"]


def test_auth_401_without_newer_token_returns_401_without_retry(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    reader = reader_holding_refused_token(deployment, reads, clock)

    answer = requests.get(
        deployment.standin.verify_url, auth=Matrix42Auth(reader), timeout=5
    )

    assert answer.status_code == 401
    assert answer.history == []
    assert reads.calls == 2
    assert len(check_requests(deployment)) == 1


def test_auth_401_with_seekable_body_resends_the_same_body(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    reader = reader_holding_refused_token(deployment, reads, clock)
    deployment.invoke("force-refresh")

    answer = requests.get(
        deployment.standin.verify_url,
        data=io.BytesIO(b"payload"),
        auth=Matrix42Auth(reader),
        timeout=5,
    )

    assert answer.status_code == 200
    assert [r.body for r in check_requests(deployment)] == [b"payload"] * 2


def test_auth_401_with_one_shot_body_returns_401_and_drops_cached_token(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    reader = reader_holding_refused_token(deployment, reads, clock)
    deployment.invoke("force-refresh")
    newer = deployment.current_record()["token"]

    answer = requests.get(
        deployment.standin.verify_url,
        data=OneShotBody(b"payload"),
        auth=Matrix42Auth(reader),
        timeout=5,
    )

    assert answer.status_code == 401
    assert len(check_requests(deployment)) == 1
    assert reader.get_token() == newer
    assert reads.calls == 2


def test_auth_without_reader_reads_secret_named_in_environment(
    deployment: Deployment,
):
    deployment.invoke("force-refresh")

    answer = requests.get(deployment.standin.verify_url, auth=Matrix42Auth(), timeout=5)

    assert answer.status_code == 200


def test_auth_logs_and_repr_never_contain_tokens(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG, logger="matrix42_token")
    reader = reader_holding_refused_token(deployment, reads, clock)
    deployment.invoke("force-refresh")
    newer = deployment.current_record()["token"]
    auth = Matrix42Auth(reader)

    requests.get(deployment.standin.verify_url, auth=auth, timeout=5)

    assert "retrying with" in caplog.text
    for text in (caplog.text, repr(auth)):
        assert REFUSED_TOKEN not in text
        assert newer not in text
