"""Reading the exchange's answer: status mapping, body parsing, JWT expiry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from refresher.answer import (
    check_status,
    parse_answer,
    read_jwt_expiry,
    read_server_time,
)
from refresher.errors import ExchangeAnswerError, ExchangeRefusedError

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
HOST = "accounts.matrix42.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict) -> str:
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{b64url(json.dumps(claims).encode())}.c2lnbmF0dXJl"


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_check_status_200_passes():
    check_status(200, HOST)


@pytest.mark.parametrize("status", [401, 403, 406])
def test_check_status_refusal_raises_refused(status: int):
    with pytest.raises(ExchangeRefusedError, match=f"HTTP {status}"):
        check_status(status, HOST)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_check_status_redirect_raises_answer_error(status: int):
    with pytest.raises(ExchangeAnswerError, match="redirect"):
        check_status(status, HOST)


@pytest.mark.parametrize("status", [204, 400, 404, 410])
def test_check_status_other_raises_naming_status(status: int):
    with pytest.raises(ExchangeAnswerError, match=f"HTTP {status}: check EXCHANGE_URL"):
        check_status(status, HOST)


def test_parse_answer_jwt_gives_its_exp():
    exp = NOW + timedelta(hours=1)
    token = jwt({"exp": int(exp.timestamp())})

    answer = parse_answer(body({"RawToken": token}), HOST, NOW)

    assert answer.token == token
    assert answer.expires_at == exp


def test_parse_answer_lifetime_earlier_than_exp_wins():
    token = jwt({"exp": int((NOW + timedelta(hours=2)).timestamp())})
    lifetime = "2026-12-03T12:30:00.0000000Z"

    answer = parse_answer(body({"RawToken": token, "LifeTime": lifetime}), HOST, NOW)

    assert answer.expires_at == NOW + timedelta(minutes=30)


def test_parse_answer_unreadable_lifetime_falls_back_to_exp():
    exp = NOW + timedelta(hours=1)
    token = jwt({"exp": exp.timestamp()})

    answer = parse_answer(body({"RawToken": token, "LifeTime": "01:00:00"}), HOST, NOW)

    assert answer.expires_at == exp


def test_parse_answer_opaque_token_has_unknown_expiry():
    answer = parse_answer(body({"RawToken": "opaque-Token_123"}), HOST, NOW)

    assert answer.expires_at is None


def test_parse_answer_repr_hides_token():
    token = jwt({"exp": int((NOW + timedelta(hours=1)).timestamp())})

    answer = parse_answer(body({"RawToken": token}), HOST, NOW)

    assert token not in repr(answer)
    assert answer.fingerprint in repr(answer)


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        (b"null", ExchangeRefusedError, "answered null"),
        (b"<html><body>Sign in</body></html>", ExchangeAnswerError, "HTML page"),
        (b"\xff\xfe", ExchangeAnswerError, "not JSON"),
        (b"", ExchangeAnswerError, "not JSON"),
        (b'"eyJ"', ExchangeAnswerError, "not an object"),
        (b"[]", ExchangeAnswerError, "not an object"),
        (b"{}", ExchangeAnswerError, "without a RawToken"),
        (b'{"RawToken": null}', ExchangeAnswerError, "without a RawToken"),
        (b'{"RawToken": ""}', ExchangeAnswerError, "empty RawToken"),
        (b'{"RawToken": 5}', ExchangeAnswerError, "not a string"),
        (b'{"RawToken": ["a"]}', ExchangeAnswerError, "not a string"),
        (b'{"RawToken": "a b"}', ExchangeAnswerError, "bearer token header"),
        (b'{"RawToken": "a\\r\\nX: y"}', ExchangeAnswerError, "bearer token header"),
        (b'{"RawToken": "t\\u00e9"}', ExchangeAnswerError, "bearer token header"),
    ],
)
def test_parse_answer_unusable_body_raises(raw: bytes, error: type, match: str):
    with pytest.raises(error, match=match):
        parse_answer(raw, HOST, NOW)


def test_parse_answer_expired_token_raises():
    token = jwt({"exp": int((NOW - timedelta(seconds=1)).timestamp())})

    with pytest.raises(ExchangeAnswerError, match="already expired"):
        parse_answer(body({"RawToken": token}), HOST, NOW)


def test_parse_answer_error_never_holds_token():
    token = jwt({"exp": int((NOW - timedelta(seconds=1)).timestamp())})

    with pytest.raises(ExchangeAnswerError) as caught:
        parse_answer(body({"RawToken": token}), HOST, NOW)

    assert token not in str(caught.value)


@pytest.mark.parametrize(
    ("exp", "expected"),
    [
        (1796299200, datetime(2026, 12, 3, 12, 0, tzinfo=UTC)),
        (1796299200.5, datetime(2026, 12, 3, 12, 0, 0, 500000, tzinfo=UTC)),
        ("1796299200", datetime(2026, 12, 3, 12, 0, tzinfo=UTC)),
        (True, None),
        ("soon", None),
        (None, None),
        (float("inf"), None),
        (10**20, None),
    ],
)
def test_read_jwt_expiry_exp_forms(exp: object, expected: datetime | None):
    assert read_jwt_expiry(jwt({"exp": exp})) == expected


def test_read_jwt_expiry_missing_claim_is_none():
    assert read_jwt_expiry(jwt({"sub": "partner"})) is None


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_read_jwt_expiry_unpadded_lengths_decode(pad: int):
    # Claims of three lengths, so the unpadded payload needs 0, 1 or 2 '='.
    claims = {"exp": 1796299200, "n": "x" * pad}
    token = jwt(claims)

    assert read_jwt_expiry(token) == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_read_jwt_expiry_uses_url_safe_alphabet():
    # '?>' encodes to 'Pz4' in standard base64 and 'Pz4' too; '>>>' gives 'Pj4-'
    # (url-safe '-' where standard base64 has '+').
    claims = {"exp": 1796299200, "k": ">>>???"}
    payload = b64url(json.dumps(claims).encode())
    assert "-" in payload or "_" in payload
    token = f"e30.{payload}.sig"

    assert read_jwt_expiry(token) == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "token", ["a.b", "a.b.c.d", "e30.!!!.sig", "e30.bm90IGpzb24.sig", "e30.WzFd.sig"]
)
def test_read_jwt_expiry_not_a_jwt_is_none(token: str):
    assert read_jwt_expiry(token) is None


def test_read_server_time_http_date():
    assert read_server_time("Thu, 03 Dec 2026 12:00:00 GMT") == NOW


@pytest.mark.parametrize("value", [None, "", "yesterday"])
def test_read_server_time_unreadable_is_none(value: str | None):
    assert read_server_time(value) is None
