"""Properties of the parsers that read what others wrote: the exchange's answer, the
JWT's exp claim, the token record and the PAT secret.

Whatever the input, each returns a valid result or raises the project's own typed
error, never anything else. Hypothesis runs derandomized and without its example
database, so CI sees the same examples on every run.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matrix42_token.record import TokenRecord, TokenRecordError, is_header_safe
from refresher.answer import ExchangeAnswer, parse_answer, read_jwt_expiry
from refresher.errors import SecretReadError, TokenExchangeError
from refresher.secret_store import read_pat

HOST = "accounts.matrix42.com"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 9999-12-31T23:59:59Z, the last second a datetime can hold.
MAX_EXP = 253402300799
# JSON nested deeper than the decoder's recursion limit: a body or secret of
# 10 KB can hold it, far below the 64 KiB either may be.
DEEP_JSON = "[" * 10_000

bounded = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def b64url(data: bytes, padded: bool = False) -> str:
    encoded = base64.urlsafe_b64encode(data).decode("ascii")
    return encoded if padded else encoded.rstrip("=")


def jwt(claims: object, padded: bool = False) -> str:
    header = b64url(b'{"alg":"HS256","typ":"JWT"}', padded)
    payload = b64url(json.dumps(claims).encode(), padded)
    return f"{header}.{payload}.c2lnbmF0dXJl"


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.integers(-(10**20), 10**20).map(str)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
header_safe_tokens = st.from_regex(r"[A-Za-z0-9\-._~+/]{1,40}=*", fullmatch=True)
exp_values = (
    st.integers(-(10**13), 10**13)
    | st.floats()
    | st.integers(0, MAX_EXP).map(str)
    | st.floats(0, MAX_EXP).map(repr)
    | json_values
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "exp": exp_values,
        "iat": st.integers(0, MAX_EXP),
        "sub": st.text(alphabet="~?>ab", max_size=12),
    },
)
jwts = st.builds(jwt, claims | json_values, st.booleans())
iso_times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC) | st.none(),
).map(datetime.isoformat)
raw_tokens = jwts | header_safe_tokens | st.text(max_size=40) | json_values
answers = st.fixed_dictionaries(
    {"RawToken": raw_tokens},
    optional={"LifeTime": iso_times | st.text(max_size=30) | json_values},
)
answer_bodies = (
    st.binary(max_size=300)
    | json_values.map(json.dumps).map(str.encode)
    | answers.map(json.dumps).map(str.encode)
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC),
)


# The exchange's answer.


@bounded
@given(body=answer_bodies, now=moments)
def test_parse_answer_any_body_gives_answer_or_exchange_error(
    body: bytes, now: datetime
):
    try:
        answer = parse_answer(body, HOST, now)
    except TokenExchangeError:
        return
    assert isinstance(answer, ExchangeAnswer)
    assert is_header_safe(answer.token)
    assert answer.expires_at is None or answer.expires_at > now


# The JWT's exp claim.


@bounded
@given(
    exp=st.integers(0, MAX_EXP - 1),
    form=st.sampled_from(["int", "float", "string", "float string"]),
    padded=st.booleans(),
    extra=claims,
)
def test_read_jwt_expiry_generated_exp_reads_back(
    exp: int, form: str, padded: bool, extra: dict
):
    value: object = {
        "int": exp,
        "float": exp + 0.5,
        "string": str(exp),
        "float string": f"{exp}.5",
    }[form]
    half = timedelta(microseconds=500_000) if "float" in form else timedelta()

    token = jwt({**extra, "exp": value}, padded)

    assert read_jwt_expiry(token) == EPOCH + timedelta(seconds=exp) + half


def test_read_jwt_expiry_url_safe_payload_reads_back():
    token = jwt({"exp": 1796313600, "sub": "~~~???"})
    assert "-" in token.split(".")[1] and "_" in token.split(".")[1]

    assert read_jwt_expiry(token) == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


@bounded
@given(
    extra=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "exp"), scalars),
    padded=st.booleans(),
)
def test_read_jwt_expiry_without_exp_is_none(extra: dict, padded: bool):
    assert read_jwt_expiry(jwt(extra, padded)) is None


@bounded
@given(
    exp=st.booleans()
    | st.none()
    | st.text(alphabet="abcxyz ", max_size=10)
    | st.lists(st.integers(), max_size=2)
    | st.just(float("inf"))
    | st.just(float("nan"))
)
def test_read_jwt_expiry_non_numeric_exp_is_none(exp: object):
    assert read_jwt_expiry(jwt({"exp": exp})) is None


@bounded
@given(
    text=st.text()
    | st.lists(
        st.text(alphabet="AZaz09-_+/=.", max_size=30), min_size=3, max_size=3
    ).map(".".join)
    | jwts
)
def test_read_jwt_expiry_any_text_never_raises(text: str):
    expiry = read_jwt_expiry(text)

    assert expiry is None or isinstance(expiry, datetime)


# The token record.


def assert_record_or_record_error(text: str | bytes) -> None:
    try:
        record = TokenRecord.from_json(text)
    except TokenRecordError:
        return
    assert isinstance(record, TokenRecord)
    assert is_header_safe(record.token)


@bounded
@given(
    value=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "token": header_safe_tokens | json_values,
            "token_type": st.sampled_from(["Bearer", "bearer", "MAC"]) | json_values,
            "expires_at": iso_times | json_values,
            "refreshed_at": iso_times | json_values,
            "pat_version_id": json_values,
        },
    )
)
def test_record_from_json_any_json_gives_record_or_record_error(value: object):
    assert_record_or_record_error(json.dumps(value))


@bounded
@given(text=st.text() | st.binary())
def test_record_from_json_any_text_gives_record_or_record_error(text: str | bytes):
    assert_record_or_record_error(text)


whole_seconds = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.builds(
        timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))
    ),
).map(lambda moment: moment.replace(microsecond=0))
records = st.builds(
    TokenRecord,
    token=header_safe_tokens,
    expires_at=st.none() | whole_seconds,
    refreshed_at=st.none() | whole_seconds,
    pat_version_id=st.none() | st.text(max_size=40),
)


@bounded
@given(record=records)
def test_record_to_json_from_json_round_trips(record: TokenRecord):
    parsed = TokenRecord.from_json(record.to_json())

    assert parsed == record
    assert parsed.fingerprint == record.fingerprint


# The PAT secret.


@bounded
@given(
    text=st.text()
    | st.text().map(json.dumps)
    | st.builds(lambda pat: json.dumps({"pat": pat}), st.text() | json_values)
    | json_values.map(json.dumps)
)
def test_read_pat_any_text_gives_header_safe_pat_or_read_error(text: str):
    try:
        pat = read_pat({"SecretString": text}, "matrix42/pat")
    except SecretReadError:
        return
    assert pat == pat.strip()
    assert pat
    assert all("\x21" <= char <= "\x7e" for char in pat)


# JSON nested deeper than the decoder can follow: checked once each here rather
# than as Hypothesis examples, whose report would print all 10,000 brackets.


def _parse_answer_text(text: str) -> object:
    return parse_answer(text.encode(), HOST, datetime(2026, 12, 3, tzinfo=UTC))


def _read_jwt_payload(text: str) -> object:
    return read_jwt_expiry("eyJhbGciOiJIUzI1NiJ9." + b64url(text.encode()) + ".c2ln")


def _read_pat_text(text: str) -> object:
    return read_pat({"SecretString": text}, "matrix42/pat")


@pytest.mark.parametrize(
    ("parse", "allowed"),
    [
        (_parse_answer_text, TokenExchangeError),
        (_read_jwt_payload, ()),
        (TokenRecord.from_json, TokenRecordError),
        (_read_pat_text, SecretReadError),
    ],
    ids=["parse_answer", "read_jwt_expiry", "TokenRecord.from_json", "read_pat"],
)
def test_parser_deeply_nested_json_gives_typed_error(parse, allowed):
    try:
        parse(DEEP_JSON)
    except allowed:
        pass
    except RecursionError:
        pytest.fail(f"{parse.__name__} let a RecursionError out for deep JSON")
