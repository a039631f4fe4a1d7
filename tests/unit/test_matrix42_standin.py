"""Unit tests for the local Matrix42 stand-in (scripts/matrix42_standin.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.matrix42_standin import SIGNING_KEY, Matrix42StandIn

REPO_ROOT = Path(__file__).resolve().parents[2]
PAT = "demo-pat"
AUTH = {"Authorization": f"Bearer {PAT}", "Accept": "application/json"}
DENIED = {"Message": "Authorization has been denied for this request."}
LIFETIME = 3600
TIMEOUT = 5
DOTNET_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")


@pytest.fixture(scope="module")
def server() -> Iterator[Matrix42StandIn]:
    """One running stand-in shared by the module."""
    with Matrix42StandIn(valid_pats=(PAT,), token_lifetime=LIFETIME) as standin:
        yield standin


@pytest.fixture
def standin(server: Matrix42StandIn) -> Matrix42StandIn:
    """The shared stand-in, reset to its constructor state."""
    server.reset()
    return server


def exchange(standin: Matrix42StandIn, **headers: str) -> requests.Response:
    """A Marketplace exchange with the demo PAT unless headers say otherwise."""
    return requests.get(
        standin.exchange_url,
        headers=headers or AUTH,
        timeout=TIMEOUT,
        allow_redirects=False,
    )


def esm_exchange(standin: Matrix42StandIn) -> requests.Response:
    """An Enterprise Service Management exchange with the demo PAT."""
    return requests.post(standin.esm_exchange_url, headers=AUTH, timeout=TIMEOUT)


def verify(standin: Matrix42StandIn, authorization: str | None) -> requests.Response:
    """Call the verify endpoint with the given Authorization header, if any."""
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.get(standin.verify_url, headers=headers, timeout=TIMEOUT)


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWT, after checking its HS256 signature."""
    header, payload, signature = token.split(".")
    signing_input = f"{header}.{payload}".encode()
    expected = hmac.new(SIGNING_KEY, signing_input, hashlib.sha256).digest()
    assert hmac.compare_digest(b64url_decode(signature), expected)
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def test_exchange_valid_pat_returns_jwt_expiring_after_lifetime(
    standin: Matrix42StandIn,
) -> None:
    before = int(time.time())
    response = exchange(standin)
    after = int(time.time())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["RawToken"]
    token = body["RawToken"]
    assert "=" not in token
    header, claims = jwt_parts(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert before + LIFETIME <= claims["exp"] <= after + LIFETIME
    assert claims["iat"] == claims["exp"] - LIFETIME
    assert {"iss", "sub", "jti"} <= claims.keys()
    assert PAT not in json.dumps(claims)


def test_exchange_changed_lifetime_sets_exp(standin: Matrix42StandIn) -> None:
    standin.token_lifetime = 90
    before = int(time.time())
    _, claims = jwt_parts(exchange(standin).json()["RawToken"])
    assert before + 90 <= claims["exp"] <= int(time.time()) + 90


def test_exchange_any_answer_has_current_date_header(
    standin: Matrix42StandIn,
) -> None:
    standin.queue("server_error")
    for response in (exchange(standin), exchange(standin)):
        sent = parsedate_to_datetime(response.headers["Date"])
        assert abs((datetime.now(UTC) - sent).total_seconds()) < 5


def test_esm_exchange_post_returns_lifetime_matching_jwt_exp(
    standin: Matrix42StandIn,
) -> None:
    response = esm_exchange(standin)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"RawToken", "LifeTime"}
    assert DOTNET_TIME.fullmatch(body["LifeTime"])
    _, claims = jwt_parts(body["RawToken"])
    life_time = datetime.strptime(body["LifeTime"][:19], "%Y-%m-%dT%H:%M:%S")
    assert life_time.replace(tzinfo=UTC).timestamp() == claims["exp"]
    assert body["LifeTime"].endswith(".0000000Z")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-pat",
        "Bearer ",
        f"Basic {PAT}",
        PAT,
        f"Bearer {PAT}x",
    ],
)
def test_exchange_wrong_pat_is_denied_with_message(
    standin: Matrix42StandIn, authorization: str
) -> None:
    response = exchange(standin, Authorization=authorization)
    assert response.status_code == 401
    assert response.json() == DENIED
    assert standin.issued_tokens == []


def test_exchange_missing_authorization_is_denied(standin: Matrix42StandIn) -> None:
    response = exchange(standin, Accept="application/json")
    assert (response.status_code, response.json()) == (401, DENIED)


def test_exchange_pat_added_at_runtime_is_accepted(standin: Matrix42StandIn) -> None:
    standin.valid_pats.add("second-pat")
    standin.valid_pats.discard(PAT)
    assert exchange(standin, Authorization="Bearer second-pat").status_code == 200
    assert exchange(standin).status_code == 401


@pytest.mark.parametrize(
    ("method", "url_name", "allowed"),
    [
        ("POST", "exchange_url", "GET"),
        ("PUT", "exchange_url", "GET"),
        ("GET", "esm_exchange_url", "POST"),
        ("POST", "verify_url", "GET"),
    ],
)
def test_endpoint_wrong_method_is_method_not_allowed(
    standin: Matrix42StandIn, method: str, url_name: str, allowed: str
) -> None:
    url = getattr(standin, url_name)
    response = requests.request(method, url, headers=AUTH, timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert "Message" in response.json()


@pytest.mark.parametrize(
    ("behaviour", "status", "content_type", "body"),
    [
        ("unauthorized", 401, "application/json", json.dumps(DENIED).encode()),
        ("not_acceptable", 406, None, b""),
        ("null", 200, "application/json", b"null"),
        ("not_json", 200, "application/json", b'{"RawToken": '),
        ("no_raw_token", 200, "application/json", b"{}"),
        ("empty_raw_token", 200, "application/json", b'{"RawToken": ""}'),
        ("non_string_raw_token", 200, "application/json", b'{"RawToken": 12345}'),
        (
            "bad_header_token",
            200,
            "application/json",
            b'{"RawToken": "abc def\\r\\nX-Evil: 1"}',
        ),
    ],
)
def test_queue_exact_body_behaviour_answers_as_documented(
    standin: Matrix42StandIn,
    behaviour: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    standin.queue(behaviour)
    response = exchange(standin)
    assert response.status_code == status
    assert response.headers.get("Content-Type", "").split(";")[0] == (
        content_type or ""
    )
    assert response.content == body


@pytest.mark.parametrize(
    ("behaviour", "status", "content_type"),
    [
        ("forbidden", 403, "application/json"),
        ("server_error", 500, "application/json"),
        ("bad_gateway", 502, "text/html"),
        ("unavailable", 503, "text/html"),
        ("html", 200, "text/html"),
    ],
)
def test_queue_error_behaviour_answers_status_and_type(
    standin: Matrix42StandIn, behaviour: str, status: int, content_type: str
) -> None:
    standin.queue(behaviour)
    response = exchange(standin)
    assert response.status_code == status
    assert response.headers["Content-Type"].split(";")[0] == content_type
    if content_type == "application/json":
        assert isinstance(response.json()["Message"], str)


def test_queue_html_behaviour_serves_login_page(standin: Matrix42StandIn) -> None:
    standin.queue("html")
    assert "<form" in exchange(standin).text


def test_queue_redirect_points_to_login_page(standin: Matrix42StandIn) -> None:
    standin.queue("redirect")
    response = exchange(standin)
    assert response.status_code == 302
    assert response.headers["Location"] == standin.base_url + "/login"
    login = requests.get(response.headers["Location"], timeout=TIMEOUT)
    assert login.status_code == 200
    assert login.headers["Content-Type"].startswith("text/html")
    assert standin.issued_tokens == []


@pytest.mark.parametrize(
    ("behaviour", "retry_after"),
    [("throttled", "1"), ("throttled:7", "7"), ("throttled:0.25", "0.25")],
)
def test_queue_throttled_answers_429_with_retry_after(
    standin: Matrix42StandIn, behaviour: str, retry_after: str
) -> None:
    standin.queue(behaviour)
    response = exchange(standin)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == retry_after


def test_queue_stall_delays_then_answers_ok(standin: Matrix42StandIn) -> None:
    standin.queue("stall:0.05")
    started = time.monotonic()
    response = exchange(standin)
    assert time.monotonic() - started >= 0.05
    assert response.status_code == 200
    assert response.json()["RawToken"] == standin.issued_tokens[0]


def test_queue_stall_still_checks_pat(standin: Matrix42StandIn) -> None:
    standin.queue("stall:0")
    assert exchange(standin, Authorization="Bearer wrong").status_code == 401


def test_queue_oversize_answers_about_two_mib_of_json(
    standin: Matrix42StandIn,
) -> None:
    standin.queue("oversize")
    response = exchange(standin)
    assert response.status_code == 200
    assert 2 * 1024 * 1024 <= len(response.content) < 3 * 1024 * 1024
    assert isinstance(response.json()["RawToken"], str)


def test_queue_close_hangs_up_without_response(standin: Matrix42StandIn) -> None:
    standin.queue("close")
    with pytest.raises(requests.ConnectionError):
        exchange(standin)
    assert exchange(standin).status_code == 200


def test_queue_expired_issues_jwt_expired_ten_minutes_ago(
    standin: Matrix42StandIn,
) -> None:
    standin.queue("expired", "expired")
    before = int(time.time())
    _, claims = jwt_parts(exchange(standin).json()["RawToken"])
    assert before - 600 <= claims["exp"] <= int(time.time()) - 600
    assert DOTNET_TIME.fullmatch(esm_exchange(standin).json()["LifeTime"])


@pytest.mark.parametrize("use_esm", [False, True])
def test_queue_no_exp_issues_opaque_token_without_lifetime(
    standin: Matrix42StandIn, use_esm: bool
) -> None:
    standin.queue("no_exp")
    response = esm_exchange(standin) if use_esm else exchange(standin)
    body = response.json()
    assert list(body) == ["RawToken"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", body["RawToken"])
    assert standin.issued_tokens == [body["RawToken"]]


def test_queue_order_is_fifo_then_falls_back_to_ok(standin: Matrix42StandIn) -> None:
    standin.queue("server_error", "forbidden")
    standin.queue("unavailable")
    statuses = [exchange(standin).status_code for _ in range(5)]
    assert statuses == [500, 403, 503, 200, 200]


def test_queue_shared_between_both_exchange_paths(standin: Matrix42StandIn) -> None:
    standin.queue("forbidden", "server_error")
    assert esm_exchange(standin).status_code == 403
    assert exchange(standin).status_code == 500
    assert standin.exchange_count == 2


@pytest.mark.parametrize(
    "behaviour", ["bogus", "OK", "stall", "stall:soon", "stall:-1", "ok:1", ""]
)
def test_queue_invalid_behaviour_raises_value_error(
    standin: Matrix42StandIn, behaviour: str
) -> None:
    with pytest.raises(ValueError, match="behaviour"):
        standin.queue(behaviour)


def test_queue_invalid_entry_enqueues_nothing(standin: Matrix42StandIn) -> None:
    with pytest.raises(ValueError, match="bogus"):
        standin.queue("forbidden", "bogus")
    assert exchange(standin).status_code == 200


def test_verify_issued_token_is_accepted(standin: Matrix42StandIn) -> None:
    token = exchange(standin).json()["RawToken"]
    response = verify(standin, f"Bearer {token}")
    assert (response.status_code, response.json()) == (200, {"Result": "OK"})


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Bearer {PAT}",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
        "Bearer ",
    ],
)
def test_verify_token_not_issued_is_refused(
    standin: Matrix42StandIn, authorization: str | None
) -> None:
    exchange(standin)
    response = verify(standin, authorization)
    assert (response.status_code, response.json()) == (401, DENIED)


def test_verify_expired_issued_token_is_refused(standin: Matrix42StandIn) -> None:
    standin.queue("expired")
    token = exchange(standin).json()["RawToken"]
    assert verify(standin, f"Bearer {token}").status_code == 401


def test_verify_token_forgotten_after_reset_is_refused(
    standin: Matrix42StandIn,
) -> None:
    token = exchange(standin).json()["RawToken"]
    standin.reset()
    assert verify(standin, f"Bearer {token}").status_code == 401


def test_issued_tokens_records_every_token_in_order(
    standin: Matrix42StandIn,
) -> None:
    standin.queue("ok", "server_error", "expired", "no_exp")
    answers = [exchange(standin) for _ in range(4)]
    tokens = [a.json()["RawToken"] for a in answers if a.status_code == 200]
    tokens.append(esm_exchange(standin).json()["RawToken"])
    assert len(tokens) == 4
    assert standin.issued_tokens == tokens


def test_exchange_every_token_differs(standin: Matrix42StandIn) -> None:
    tokens = [exchange(standin).json()["RawToken"] for _ in range(4)]
    tokens += [esm_exchange(standin).json()["RawToken"] for _ in range(4)]
    assert len(set(tokens)) == 8


def test_exchange_concurrent_requests_all_counted(standin: Matrix42StandIn) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: exchange(standin), range(16)))
    assert [a.status_code for a in answers] == [200] * 16
    assert standin.exchange_count == 16
    assert len(set(standin.issued_tokens)) == 16


def test_requests_recorded_with_method_path_headers_and_body(
    standin: Matrix42StandIn,
) -> None:
    exchange(standin)
    requests.post(
        standin.esm_exchange_url, headers=AUTH, data=b"payload", timeout=TIMEOUT
    )
    verify(standin, "Bearer nothing")
    requests.get(standin.base_url + "/elsewhere?x=1", timeout=TIMEOUT)
    recorded = standin.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/api/session/tokens/exchange"),
        ("POST", "/m42Services/api/ApiToken/GenerateAccessTokenFromApiToken"),
        ("GET", "/mpl-api/Check"),
        ("GET", "/elsewhere?x=1"),
    ]
    assert recorded[0].headers["Authorization"] == f"Bearer {PAT}"
    assert recorded[0].header("accept") == "application/json"
    assert recorded[0].body == b""
    assert recorded[1].body == b"payload"
    assert standin.exchange_count == 2


def test_recorded_request_repr_hides_headers(standin: Matrix42StandIn) -> None:
    exchange(standin)
    assert PAT not in repr(standin.requests)


def test_unknown_path_answers_404(standin: Matrix42StandIn) -> None:
    response = requests.get(standin.base_url + "/api/other", timeout=TIMEOUT)
    assert response.status_code == 404
    assert standin.exchange_count == 0


def test_reset_clears_state_and_restores_settings(standin: Matrix42StandIn) -> None:
    exchange(standin)
    standin.queue("forbidden")
    standin.valid_pats.clear()
    standin.token_lifetime = 5
    standin.reset()
    assert standin.requests == []
    assert standin.issued_tokens == []
    assert standin.exchange_count == 0
    assert standin.valid_pats == {PAT}
    assert standin.token_lifetime == LIFETIME
    assert exchange(standin).status_code == 200


def test_request_log_never_contains_pat_or_token(
    standin: Matrix42StandIn,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="matrix42_standin")
    token = exchange(standin).json()["RawToken"]
    verify(standin, f"Bearer {token}")
    requests.get(standin.exchange_url + f"?pat={PAT}", headers=AUTH, timeout=TIMEOUT)
    requests.get(standin.base_url + f"/{PAT}", timeout=TIMEOUT)
    output = "".join(capsys.readouterr()) + caplog.text
    assert "GET /api/session/tokens/exchange 200" in caplog.text
    assert "GET <other path> 404" in caplog.text
    assert PAT not in output
    assert token not in output


def test_standin_string_valid_pats_raises_type_error() -> None:
    with pytest.raises(TypeError):
        Matrix42StandIn(valid_pats="demo-pat")


def test_standin_base_url_before_start_raises() -> None:
    with pytest.raises(RuntimeError):
        _ = Matrix42StandIn().base_url


def test_standin_start_is_fast_and_stop_refuses_connections() -> None:
    standin = Matrix42StandIn()
    started = time.perf_counter()
    standin.start()
    elapsed = time.perf_counter() - started
    url = standin.exchange_url
    assert exchange(standin).status_code == 200
    standin.stop()
    assert elapsed < 0.5
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=AUTH, timeout=TIMEOUT)


def test_standin_stop_ends_stalled_request_without_answer() -> None:
    outcome: list[BaseException] = []

    def stalled_call(url: str) -> None:
        try:
            requests.get(url, headers=AUTH, timeout=TIMEOUT)
        except requests.RequestException as error:
            outcome.append(error)

    with Matrix42StandIn() as standin:
        standin.queue("stall:30")
        caller = threading.Thread(target=stalled_call, args=(standin.exchange_url,))
        caller.start()
        while standin.exchange_count == 0:
            time.sleep(0.005)
    caller.join(timeout=TIMEOUT)
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], requests.ConnectionError)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_main_prints_exchange_url_and_exits_cleanly_on_signal(
    signum: signal.Signals,
) -> None:
    command = [sys.executable, "-m", "scripts.matrix42_standin", "--port", "0"]
    command += ["--pat", "cli-pat", "--pat", "other-pat", "--lifetime", "120"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/session/tokens/exchange", url)
        headers = {"Authorization": "Bearer cli-pat"}
        response = requests.get(url, headers=headers, timeout=TIMEOUT)
        _, claims = jwt_parts(response.json()["RawToken"])
        assert claims["exp"] - claims["iat"] == 120
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert stdout == ""
    assert "cli-pat" not in stderr
