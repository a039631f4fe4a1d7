"""Reading the exchange's answer: status, body, token and expiry.

Pure functions, no I/O, so every odd answer a real server gives can be tested alone.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from matrix42_token.record import fingerprint, is_header_safe, parse_timestamp
from refresher.errors import ExchangeAnswerError, ExchangeRefusedError

REFUSAL_STATUSES = frozenset({401, 403, 406})
# Matrix42 and the clock of whoever answers may disagree by this much; beyond it
# the answer's Date is not trusted (a cache can serve an old answer with its Date).
MAX_CLOCK_DISAGREEMENT = timedelta(minutes=5)


def is_transient(status: int) -> bool:
    """Statuses a later attempt may not get: timeouts, throttling, server errors."""
    return status in (408, 429) or 500 <= status <= 599


def reference_time(date_header: str | None, ours: datetime) -> datetime:
    """When to judge a new token's expiry at: the later of ``ours`` and ``Date``.

    A token must be valid by both clocks. A ``Date`` more than a few minutes off
    ours is ignored: a cache may replay an old answer with its old ``Date``.
    """
    theirs = read_server_time(date_header)
    if theirs is None or abs(theirs - ours) > MAX_CLOCK_DISAGREEMENT:
        return ours
    return max(theirs, ours)


@dataclasses.dataclass(frozen=True)
class ExchangeAnswer:
    """A usable bearer token and when it expires (``None`` when nobody says)."""

    token: str = dataclasses.field(repr=False)
    expires_at: datetime | None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.token)

    def __repr__(self) -> str:
        return (
            f"ExchangeAnswer(fingerprint={self.fingerprint!r}, "
            f"expires_at={self.expires_at!r})"
        )


def check_status(status: int, host: str) -> None:
    """Raise for any status but 200; transient statuses are the caller's to retry."""
    if status == 200:
        return
    if status in REFUSAL_STATUSES:
        raise ExchangeRefusedError(
            f"{host} refused the PAT (HTTP {status}): check that the PAT in the PAT "
            "secret is current and allowed to use this API"
        )
    if 300 <= status < 400:
        raise ExchangeAnswerError(
            f"{host} answered with a redirect (HTTP {status}), usually to a login "
            "page; redirects are not followed: check EXCHANGE_URL"
        )
    raise ExchangeAnswerError(f"{host} answered HTTP {status}: check EXCHANGE_URL")


def parse_answer(body: bytes, host: str, now: datetime) -> ExchangeAnswer:
    """Turn a 200 answer's body into a token that is usable at ``now``."""
    data = _load_json(body, host)
    if data is None:
        raise ExchangeRefusedError(
            f"{host} answered null instead of a token: it does this when it does not "
            "accept the PAT; check that the PAT is current"
        )
    if not isinstance(data, dict):
        raise ExchangeAnswerError(f"{host} answered JSON that is not an object")
    token = _read_raw_token(data, host)
    expires_at = _earliest(read_jwt_expiry(token), _read_lifetime(data))
    if expires_at is not None and expires_at <= now:
        raise ExchangeAnswerError(
            f"{host} answered a token that had already expired; check the clocks "
            "and EXCHANGE_URL"
        )
    return ExchangeAnswer(token=token, expires_at=expires_at)


def read_jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, read without checking its signature; else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error, RecursionError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return _epoch_to_datetime(exp)


def read_server_time(date_header: str | None) -> datetime | None:
    """An HTTP ``Date`` header as an aware datetime; None when absent or unreadable."""
    if not date_header:
        return None
    try:
        moment = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _b64url_decode(segment: str) -> bytes:
    # JWTs drop the padding (RFC 7515 section 2); put it back before decoding.
    padded = segment + "=" * (-len(segment) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def _epoch_to_datetime(exp: object) -> datetime | None:
    if isinstance(exp, bool):
        return None
    if isinstance(exp, str):
        try:
            exp = float(exp)
        except ValueError:
            return None
    if not isinstance(exp, (int, float)) or not math.isfinite(exp):
        return None
    try:
        return datetime.fromtimestamp(exp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _load_json(body: bytes, host: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        looks_html = body.lstrip()[:1] == b"<"
        what = "an HTML page, not JSON" if looks_html else "something that is not JSON"
        raise ExchangeAnswerError(
            f"{host} answered {what}; check EXCHANGE_URL and EXCHANGE_METHOD"
        ) from exc


def _read_raw_token(data: dict[str, object], host: str) -> str:
    token = data.get("RawToken")
    if token is None:
        raise ExchangeAnswerError(f"{host} answered without a RawToken field")
    if not isinstance(token, str):
        raise ExchangeAnswerError(f"{host} answered a RawToken that is not a string")
    if not token:
        raise ExchangeAnswerError(f"{host} answered an empty RawToken")
    if not is_header_safe(token):
        raise ExchangeAnswerError(
            f"{host} answered a RawToken that cannot be sent as a bearer token header"
        )
    return token


def _read_lifetime(data: dict[str, object]) -> datetime | None:
    # Enterprise Service Management answers a LifeTime timestamp beside RawToken.
    lifetime = data.get("LifeTime")
    if isinstance(lifetime, str):
        try:
            return parse_timestamp(lifetime)
        except (ValueError, OverflowError):
            return None
    return None


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None
