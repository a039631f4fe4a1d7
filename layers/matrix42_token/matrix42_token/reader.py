"""Read the published bearer token from Secrets Manager, cached until near expiry.

One ``TokenReader`` per process is enough: it is safe to share between threads, and
callers that arrive while a read is under way wait for that read instead of making
their own.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from matrix42_token.record import (
    Matrix42TokenError,
    TokenExpiredError,
    TokenRecord,
    TokenRecordError,
    format_timestamp,
)

logger = logging.getLogger(__name__)

SECRET_ID_VARIABLE = "TOKEN_SECRET_ID"  # noqa: S105 (a variable name, not a secret)
DEFAULT_REFRESH_AHEAD_SECONDS = 60.0
DEFAULT_FALLBACK_TTL_SECONDS = 300.0
# A token already inside the refresh-ahead window, with no newer one published
# (the refresher is late), is read again at most this often, not on every call.
RECHECK_SECONDS = 5.0
# The longest refresh_ahead or fallback_ttl; more overflows the reader's date math.
MAX_OPTION_SECONDS = 365 * 86400.0

_READ_HINTS = {
    "ResourceNotFoundException": f"it does not exist or holds no value: check "
    f"{SECRET_ID_VARIABLE} or the secret_id argument, and the region",
    "AccessDeniedException": "this role may not read it: attach the stack's "
    "ConsumerPolicyArn policy, or grant secretsmanager:GetSecretValue on it",
    "DecryptionFailure": "its KMS key cannot be used: grant kms:Decrypt on the key",
    "KMSAccessDeniedException": "its KMS key cannot be used: grant kms:Decrypt",
    "InvalidRequestException": "it is scheduled for deletion or disabled",
}


class TokenConfigError(Matrix42TokenError, ValueError):
    """No token secret was named, neither as an argument nor in TOKEN_SECRET_ID."""


class TokenReadError(Matrix42TokenError):
    """Secrets Manager did not give the token secret's value."""


def utc_now() -> datetime:
    """The current time in UTC: the reader's default clock."""
    return datetime.now(UTC)


def resolve_secret_id(
    secret_id: str | None, environ: Mapping[str, str] = os.environ
) -> str:
    """The secret id given, else ``TOKEN_SECRET_ID``; raise TokenConfigError."""
    chosen = secret_id if secret_id is not None else environ.get(SECRET_ID_VARIABLE)
    if chosen is None or not chosen.strip():
        raise TokenConfigError(
            f"no token secret named: pass secret_id or set {SECRET_ID_VARIABLE} "
            "to the token secret's name or ARN (the stack's TokenSecretArn output)"
        )
    return chosen.strip()


class TokenReader:
    """Hands out the current bearer token, reading the token secret only when due.

    A record is cached until ``refresh_ahead`` before its ``expires_at``; a record
    without ``expires_at`` is cached for ``fallback_ttl``. An expired token is never
    handed out: the reader reads once more, then raises TokenExpiredError.
    """

    def __init__(
        self,
        secret_id: str | None = None,
        *,
        client: Any = None,
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD_SECONDS,
        fallback_ttl: float = DEFAULT_FALLBACK_TTL_SECONDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Name the secret; nothing is read and no client is made until first use.

        Args:
            secret_id: Name or ARN of the token secret; default ``TOKEN_SECRET_ID``.
            client: A boto3 Secrets Manager client; default one made on first read.
            refresh_ahead: Seconds before ``expires_at`` at which to read again.
            fallback_ttl: Seconds to keep a record whose ``expires_at`` is null.
            clock: Returns the current time as an aware datetime.

        Raises:
            TokenConfigError: Neither ``secret_id`` nor ``TOKEN_SECRET_ID`` is set.
            ValueError: ``refresh_ahead`` is negative or ``fallback_ttl`` not
                positive, or either is more than 365 days.
        """
        self.secret_id = resolve_secret_id(secret_id)
        self.refresh_ahead = timedelta(seconds=_seconds("refresh_ahead", refresh_ahead))
        self.fallback_ttl = timedelta(seconds=_seconds("fallback_ttl", fallback_ttl))
        if not self.fallback_ttl:
            raise ValueError("fallback_ttl must be more than 0 seconds")
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._record: TokenRecord | None = None
        self._fresh_until = datetime.min.replace(tzinfo=UTC)

    def __repr__(self) -> str:
        cached = self._record.fingerprint if self._record else None
        return f"TokenReader(secret_id={self.secret_id!r}, cached={cached!r})"

    def get_token(self) -> str:
        """The current bearer token, for ``Authorization: Bearer <token>``.

        Returns:
            The token from the cache, or from the secret when the cache is due.

        Raises:
            TokenRecordError: The secret holds no token yet, or a malformed record.
            TokenExpiredError: The published token has already expired.
            TokenReadError: Secrets Manager refused or could not be reached.
        """
        return self.get_record().token

    def get_record(self) -> TokenRecord:
        """The current token record, with its expiry and fingerprint.

        Returns:
            The cached record while it is fresh, else the one read from the secret.

        Raises:
            TokenRecordError: The secret holds no token yet, or a malformed record.
            TokenExpiredError: The published token has already expired.
            TokenReadError: Secrets Manager refused or could not be reached.
        """
        with self._lock:
            cached = self._record
            if cached is not None and self._clock() < self._fresh_until:
                return cached
            self._record = None
            try:
                record = self._read_record()
            except TokenReadError:
                if not self._still_valid(cached):
                    raise
                return self._serve_while_unreadable(cached)
            now = self._clock()
            self._check_not_expired(record, now)
            fresh_until = self._cache_deadline(record, now)
            self._record, self._fresh_until = record, fresh_until
        logger.debug(
            "read token %s from secret %s: expires_at %s, cached until %s",
            record.fingerprint,
            self.secret_id,
            format_timestamp(record.expires_at),
            format_timestamp(fresh_until),
        )
        return record

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached record, so the next call reads the secret again.

        Call it after Matrix42 answered 401 to the token.

        Args:
            token: Drop the cache only if it still holds this token; another thread
                may have read a newer one already. ``None`` drops it regardless.
        """
        with self._lock:
            record = self._record
            if record is None or (token is not None and record.token != token):
                return
            self._record = None
        logger.debug("dropped cached token %s", record.fingerprint)

    def _client_or_default(self) -> Any:
        # Made here, under the lock: boto3's default session is not thread-safe,
        # and a reader built at import time should not need AWS settings yet.
        if self._client is None:
            self._client = boto3.client("secretsmanager")
        _quiet_botocore()
        return self._client

    def _read_record(self) -> TokenRecord:
        text = self._get_secret_string()
        try:
            return TokenRecord.from_json(text)
        except TokenRecordError as exc:
            message = f"cannot use the token secret {self.secret_id!r}: {exc}"
            raise type(exc)(message) from exc

    def _get_secret_string(self) -> str:
        try:
            answer = self._client_or_default().get_secret_value(SecretId=self.secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "UnknownError")
            hint = _READ_HINTS.get(code, "see the AWS error code")
            raise TokenReadError(
                f"cannot read the token secret {self.secret_id!r} ({code}): {hint}"
            ) from exc
        except BotoCoreError as exc:
            raise TokenReadError(
                f"cannot read the token secret {self.secret_id!r}: {exc}"
            ) from exc
        if "SecretString" not in answer:
            raise TokenRecordError(
                f"the token secret {self.secret_id!r} holds binary data, "
                "not a token record"
            )
        return answer["SecretString"]

    def _still_valid(self, record: TokenRecord | None) -> bool:
        # Only a token with a known expiry can be vouched for without the secret.
        return (
            record is not None
            and record.expires_at is not None
            and not record.is_expired(self._clock())
        )

    def _serve_while_unreadable(self, record: TokenRecord) -> TokenRecord:
        # Secrets Manager is briefly unreachable, but the token in hand is still
        # valid: keep serving it, and try the secret again in a few seconds.
        now = self._clock()
        self._record = record
        self._fresh_until = min(
            record.expires_at, now + timedelta(seconds=RECHECK_SECONDS)
        )
        logger.warning(
            "cannot read token secret %s; serving cached token %s until it "
            "expires at %s",
            self.secret_id,
            record.fingerprint,
            format_timestamp(record.expires_at),
            exc_info=True,
        )
        return record

    def _check_not_expired(self, record: TokenRecord, now: datetime) -> None:
        if record.is_expired(now):
            raise TokenExpiredError(
                f"the token in secret {self.secret_id!r} (fingerprint "
                f"{record.fingerprint}) expired at "
                f"{format_timestamp(record.expires_at)}: the refresher has not "
                "published a newer one; check its alarms and logs, or this host's clock"
            )

    def _cache_deadline(self, record: TokenRecord, now: datetime) -> datetime:
        if record.expires_at is None:
            return now + self.fallback_ttl
        deadline = record.expires_at - self.refresh_ahead
        if deadline > now:
            return deadline
        logger.warning(
            "token %s in secret %s expires at %s and no newer one is published: "
            "is the refresher running?",
            record.fingerprint,
            self.secret_id,
            format_timestamp(record.expires_at),
        )
        return min(record.expires_at, now + timedelta(seconds=RECHECK_SECONDS))


def _seconds(name: str, value: float) -> float:
    """A number of seconds from 0 to 365 days; raise ValueError naming it."""
    number = value if isinstance(value, int | float) else math.nan
    if isinstance(value, bool) or not 0 <= number <= MAX_OPTION_SECONDS:
        raise ValueError(
            f"{name} must be a number of seconds from 0 to {MAX_OPTION_SECONDS:.0f} "
            "(365 days)"
        )
    return float(value)


def _quiet_botocore() -> None:
    # At DEBUG these log GetSecretValue's request and response body, so the token.
    for name in ("botocore.parsers", "botocore.endpoint"):
        botocore_logger = logging.getLogger(name)
        if botocore_logger.getEffectiveLevel() < logging.INFO:
            botocore_logger.setLevel(logging.INFO)
