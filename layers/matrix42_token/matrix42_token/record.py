"""The token record: the JSON document the token secret holds.

The refresher writes it and every reader parses it, both through this module, so
the format is defined once. ``token`` and ``expires_at`` are the contract readers
rely on; the other fields are bookkeeping for the refresher and for people.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

TOKEN_TYPE = "Bearer"  # noqa: S105 (a scheme name, not a secret)

# RFC 6750 section 2.1: the characters a bearer token may use in a header.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Matrix42TokenError(Exception):
    """Root of every error the matrix42_token package raises on purpose."""


class TokenRecordError(Matrix42TokenError, ValueError):
    """The token secret does not hold a usable token record."""


class TokenExpiredError(TokenRecordError):
    """The token in the record has already expired."""


def fingerprint(secret: str) -> str:
    """Name a token or PAT in logs by a short hash prefix instead of its value."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def is_header_safe(token: str) -> bool:
    """Whether the token can be sent as ``Authorization: Bearer <token>``."""
    return _B64TOKEN.fullmatch(token) is not None


def format_timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, whole seconds; ``None`` stays ``None``."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse ISO 8601; a time without an offset is taken as UTC."""
    if not isinstance(text, str):
        raise ValueError("a timestamp must be a string")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class TokenRecord:
    """One published bearer token and what is known about it."""

    token: str = dataclasses.field(repr=False)
    expires_at: datetime | None
    refreshed_at: datetime | None = None
    pat_version_id: str | None = None
    token_type: str = TOKEN_TYPE

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.token)

    def __repr__(self) -> str:
        return (
            f"TokenRecord(fingerprint={self.fingerprint!r}, "
            f"expires_at={format_timestamp(self.expires_at)!r}, "
            f"refreshed_at={format_timestamp(self.refreshed_at)!r})"
        )

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds until expiry, negative once expired; ``None`` when unknown."""
        if self.expires_at is None:
            return None
        return (self.expires_at - now).total_seconds()

    def is_expired(self, now: datetime) -> bool:
        left = self.seconds_left(now)
        return left is not None and left <= 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "token": self.token,
                "token_type": self.token_type,
                "expires_at": format_timestamp(self.expires_at),
                "refreshed_at": format_timestamp(self.refreshed_at),
                "fingerprint": self.fingerprint,
                "pat_version_id": self.pat_version_id,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes | None) -> TokenRecord:
        """Parse a secret's value; raise TokenRecordError naming what is wrong."""
        if text is None or not str(text).strip():
            raise TokenRecordError("the secret is empty: no token has been published")
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise TokenRecordError("the secret does not hold JSON") from exc
        if not isinstance(data, dict):
            raise TokenRecordError("the secret holds JSON that is not an object")
        return cls(
            token=_read_token(data),
            expires_at=_read_moment(data, "expires_at"),
            refreshed_at=_read_moment(data, "refreshed_at"),
            pat_version_id=_read_optional_str(data, "pat_version_id"),
        )


def _read_token(data: dict[str, Any]) -> str:
    token = data.get("token")
    if token is None or token == "":
        raise TokenRecordError("the record holds no token yet: none has been published")
    if not isinstance(token, str) or not is_header_safe(token):
        raise TokenRecordError("the record's token is not a valid bearer token")
    token_type = data.get("token_type", TOKEN_TYPE)
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenRecordError("the record's token_type is not Bearer")
    return token


def _read_moment(data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TokenRecordError(f"the record's {key} is not an ISO 8601 time") from exc


def _read_optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise TokenRecordError(f"the record's {key} is not a string")
    return value
