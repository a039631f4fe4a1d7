"""Matrix42Auth against the stand-in's check endpoint, which accepts only live tokens
it issued and answers 401 to anything else."""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from matrix42_token import Matrix42Auth, TokenReader
from scripts.matrix42_standin import VERIFY_PATH
from tests.consumer.conftest import FakeClock, ReadCounter, publish, record_json
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


Route = Callable[[str | None], tuple[int, dict[str, str]]]


@dataclasses.dataclass(frozen=True)
class Seen:
    path: str
    authorization: str | None


class LoopbackServer:
    """An HTTP(S) server on 127.0.0.1 that answers each path by its route, called
    with the request's Authorization header, and records what every request sent."""

    def __init__(self, tls: tuple[ssl.SSLContext, Path] | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization")
                server.seen.append(Seen(self.path, authorization))
                route = server.routes.get(self.path, lambda _: (404, {}))
                status, headers = route(authorization)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme, self.verify = "http", True
        if tls is not None:
            context, certificate = tls
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True
            )
            self.scheme, self.verify = "https", str(certificate)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1, and the certificate's file
    (for ``verify=``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LoopbackServer]]:
    """Starts loopback servers, HTTPS with ``tls=True``; stops them after the test."""
    servers: list[LoopbackServer] = []

    def start(tls: bool = False) -> LoopbackServer:
        servers.append(LoopbackServer(self_signed_tls(tmp_path) if tls else None))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


class KeepAuthOnRedirect(requests.Session):
    """Keeps Authorization on every redirect, as requests itself does from http to
    https on the standard ports."""

    def should_strip_auth(self, old_url: str, new_url: str) -> bool:
        return False


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
    token = publish(deployment)
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
    newer = publish(deployment)

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


def test_auth_401_when_secret_cannot_be_read_returns_401_not_an_error(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    reader = reader_holding_refused_token(deployment, reads, clock)
    deployment.client.delete_secret(
        SecretId=TOKEN_SECRET, ForceDeleteWithoutRecovery=True
    )

    answer = requests.get(
        deployment.standin.verify_url, auth=Matrix42Auth(reader), timeout=5
    )

    assert answer.status_code == 401
    assert answer.history == []
    assert len(check_requests(deployment)) == 1


def test_auth_401_with_seekable_body_resends_the_same_body(
    deployment: Deployment, reads: ReadCounter, clock: FakeClock
):
    reader = reader_holding_refused_token(deployment, reads, clock)
    publish(deployment)

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
    newer = publish(deployment)

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
    publish(deployment)

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
    newer = publish(deployment)
    auth = Matrix42Auth(reader)

    requests.get(deployment.standin.verify_url, auth=auth, timeout=5)

    assert "retrying with" in caplog.text
    for text in (caplog.text, repr(auth)):
        assert REFUSED_TOKEN not in text
        assert newer not in text


@pytest.mark.parametrize("elsewhere", ["another host", "another port", "https to http"])
def test_auth_401_after_redirect_elsewhere_sends_no_token_there(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    serve: Callable[..., LoopbackServer],
    elsewhere: str,
):
    # GIVEN an API that redirects elsewhere, where the answer is 401; requests
    # strips the Authorization header on the way
    reader = reader_holding_refused_token(deployment, reads, clock)
    api = serve(tls=elsewhere == "https to http")
    other = api if elsewhere == "another host" else serve()
    host = "localhost" if elsewhere == "another host" else "127.0.0.1"
    api.routes["/api"] = lambda _: (302, {"Location": other.url("/steal", host=host)})
    other.routes["/steal"] = lambda _: (401, {})

    # WHEN a request is sent with the token
    answer = requests.get(
        api.url("/api"), auth=Matrix42Auth(reader), timeout=5, verify=api.verify
    )

    # THEN the 401 is returned as it is: no token sent there, the cache kept
    assert answer.status_code == 401
    assert api.seen[0] == Seen("/api", f"Bearer {REFUSED_TOKEN}")
    assert [s.authorization for s in other.seen if s.path == "/steal"] == [None]
    assert reads.calls == 1


def test_auth_401_from_another_origin_with_token_kept_is_not_retried_there(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    serve: Callable[..., LoopbackServer],
):
    # GIVEN a session that keeps the header on a redirect to another origin, and a
    # newer token published
    reader = reader_holding_refused_token(deployment, reads, clock)
    publish(deployment)
    api, other = serve(), serve()
    api.routes["/api"] = lambda _: (302, {"Location": other.url("/elsewhere")})
    other.routes["/elsewhere"] = lambda _: (401, {})

    with KeepAuthOnRedirect() as session:
        answer = session.get(api.url("/api"), auth=Matrix42Auth(reader), timeout=5)

    # THEN the newer token is not sent to the origin the old one was not meant for
    assert answer.status_code == 401
    assert [s.authorization for s in other.seen] == [f"Bearer {REFUSED_TOKEN}"]


def test_auth_redirected_retry_follows_with_new_token_and_sends_no_second_retry(
    deployment: Deployment,
    reads: ReadCounter,
    clock: FakeClock,
    serve: Callable[..., LoopbackServer],
):
    # GIVEN an API that refuses the cached token and, for the newer one, redirects
    # /a to /b
    reader = reader_holding_refused_token(deployment, reads, clock)
    newer = f"Bearer {publish(deployment)}"
    api = serve()
    api.routes["/a"] = lambda sent: (
        (302, {"Location": "/b"}) if sent == newer else (401, {})
    )
    api.routes["/b"] = lambda sent: (200, {}) if sent == newer else (401, {})

    answer = requests.get(api.url("/a"), auth=Matrix42Auth(reader), timeout=5)

    # THEN one retry, and the redirect is followed with the newer token
    assert answer.status_code == 200
    assert [(s.path, s.authorization) for s in api.seen] == [
        ("/a", f"Bearer {REFUSED_TOKEN}"),
        ("/a", newer),
        ("/b", newer),
    ]
