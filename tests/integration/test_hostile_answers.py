"""Answers and settings a hostile or broken world produces, found by review."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from refresher.errors import ConfigError, ExchangeAnswerError, ExchangeUnavailableError
from scripts.matrix42_standin import make_jwt
from tests.integration.conftest import PAT_SECRET, TOKEN_SECRET, Deployment


class RawServer(socketserver.ThreadingTCPServer):
    """Answers every connection with ``reply(socket)``: bytes exactly as written."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, reply: Callable[[socket.socket], None]) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.reply = reply

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/exchange"


class _RawHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(65536)
        try:
            self.server.reply(self.request)
        except OSError:
            pass  # the client gave up first


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(reply: Callable[[socket.socket], None]) -> RawServer:
        server = RawServer(reply)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def json_reply(body: dict, date: str | None = None) -> Callable[[socket.socket], None]:
    payload = json.dumps(body).encode()
    date_line = f"Date: {date}\r\n" if date else ""

    def reply(sock: socket.socket) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"{date_line}Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + payload)

    return reply


def fixed_token(minutes: int = 60) -> str:
    exp = int((datetime.now(UTC) + timedelta(minutes=minutes)).timestamp())
    return make_jwt({"sub": "fixed", "exp": exp})


def test_old_answer_with_old_date_is_not_published_as_valid(
    deployment: Deployment, raw_server
):
    # A cache replays an answer from long ago, with the Date it had then.
    expired = fixed_token(minutes=-2)
    server = raw_server(
        json_reply({"RawToken": expired}, date="Thu, 01 Jan 1970 00:00:00 GMT")
    )
    deployment.configure(EXCHANGE_URL=server.url)
    before = deployment.current_token_secret()

    invocation = deployment.invoke("scheduled")

    assert isinstance(invocation.error, ExchangeAnswerError)
    assert "already expired" in str(invocation.error)
    assert deployment.current_token_secret() == before


def test_same_token_exchanged_again_becomes_current(deployment: Deployment, raw_server):
    token = fixed_token()
    server = raw_server(json_reply({"RawToken": token}))
    deployment.configure(EXCHANGE_URL=server.url)
    deployment.invoke("scheduled")
    deployment.put_record('{"token": null, "expires_at": null}')

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"
    assert deployment.current_record()["token"] == token


def test_same_token_after_pat_change_records_new_pat_version(
    deployment: Deployment, raw_server
):
    server = raw_server(json_reply({"RawToken": fixed_token()}))
    deployment.configure(EXCHANGE_URL=server.url)
    deployment.invoke("scheduled")
    deployment.put_pat('{"pat": "m42pat-Rotated-Again-123"}')

    first = deployment.invoke("scheduled")
    second = deployment.invoke("scheduled")

    assert first.result["reason"] == "pat_changed"
    assert second.result["status"] == "skipped"


def test_one_secret_named_twice_is_refused_before_any_write(deployment: Deployment):
    arn = deployment.client.describe_secret(SecretId=PAT_SECRET)["ARN"]
    deployment.configure(TOKEN_SECRET_ID=arn)
    before = deployment.client.get_secret_value(SecretId=PAT_SECRET)["VersionId"]

    invocation = deployment.invoke("scheduled")

    assert isinstance(invocation.error, ConfigError)
    assert "name the same secret" in str(invocation.error)
    assert deployment.client.get_secret_value(SecretId=PAT_SECRET)["VersionId"] == (
        before
    )
    assert deployment.standin.exchange_count == 0


# Each piece that arrives restarts requests' read timeout: only the run's deadline
# stops a peer that drips its answer, in the body or already in the headers.
@pytest.mark.parametrize(
    ("head", "drop"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b" "),
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: 1\r\n"),
    ],
    ids=["body", "headers"],
)
def test_dripped_answer_is_cut_off_at_the_deadline(
    deployment: Deployment, raw_server, head: bytes, drop: bytes
):
    def drip(sock: socket.socket) -> None:
        sock.sendall(head)
        for _ in range(100):
            sock.sendall(drop)
            time.sleep(0.2)

    deployment.configure(EXCHANGE_URL=raw_server(drip).url)
    started = time.monotonic()

    invocation = deployment.invoke("scheduled", timeout=8)

    assert isinstance(invocation.error, ExchangeUnavailableError)
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_proxy_in_environment_is_not_used_for_loopback_exchange(
    deployment: Deployment, variable: str
):
    # moto's server is reached as 127.0.0.1 (exempt below), the exchange as
    # localhost: only the refresher's own bypass keeps the PAT off the proxy.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{unused.getsockname()[1]}"
    exchange_url = deployment.standin.exchange_url.replace("127.0.0.1", "localhost")
    deployment.configure(
        EXCHANGE_URL=exchange_url,
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
        **{variable: dead_proxy, variable.lower(): dead_proxy},
    )

    invocation = deployment.invoke("scheduled")

    assert invocation.result["status"] == "refreshed"


def test_missing_token_secret_fails_before_exchange(deployment: Deployment):
    deployment.client.delete_secret(
        SecretId=TOKEN_SECRET, ForceDeleteWithoutRecovery=True
    )

    invocation = deployment.invoke("scheduled")

    assert invocation.error is not None
    assert "token secret 'matrix42/bearer-token'" in str(invocation.error)
    assert deployment.standin.exchange_count == 0
