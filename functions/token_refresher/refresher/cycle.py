"""One refresh cycle: read both secrets, decide, exchange, verify, publish."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from matrix42_token.record import TokenRecord, format_timestamp
from refresher.budget import TimeBudget
from refresher.config import SERVICE_NAME, Settings
from refresher.errors import ConfigError
from refresher.exchange import MIN_ATTEMPT_SECONDS, ExchangeClient
from refresher.lock import refresh_lock
from refresher.policy import MIN_WRITE_INTERVAL_SECONDS, decide
from refresher.secret_store import AWS_ATTEMPT_SECONDS, SecretStore

logger = Logger(service=SERVICE_NAME, child=True)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What the invoking event asks for."""

    force: bool = False
    dry_run: bool = False

    @classmethod
    def from_event(cls, event: Any) -> RunOptions:
        """Read ``force`` and ``dry_run``; a scheduled event's fields are ignored."""
        if not isinstance(event, dict):
            return cls()
        return cls(force=_flag(event, "force"), dry_run=_flag(event, "dry_run"))


def _flag(event: dict[str, Any], name: str) -> bool:
    value = event.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"the event's {name!r} must be true or false")
    return value


class RefreshCycle:
    """Runs once; afterwards ``published`` is what the token secret holds."""

    def __init__(
        self, settings: Settings, store: SecretStore, exchange: ExchangeClient
    ) -> None:
        self.settings = settings
        self.store = store
        self.exchange = exchange
        self.published: TokenRecord | None = None
        self.now = datetime.now(UTC)
        self._anchor = (self.now, time.monotonic())

    def run(self, options: RunOptions, budget: TimeBudget) -> dict[str, Any]:
        # One refresh per token secret at a time on this host.
        with refresh_lock(self.store.token_secret_key, budget, AWS_ATTEMPT_SECONDS):
            return self._run_locked(options, budget)

    def _run_locked(self, options: RunOptions, budget: TimeBudget) -> dict[str, Any]:
        snapshot = self.store.read()
        # AWS's clock, from the answer's Date header, so a host clock that is off
        # cannot make the refresher skip a refresh that is due.
        if snapshot.aws_time is not None:
            self._anchor = (snapshot.aws_time, time.monotonic())
        self.now = self._clock()
        self.published = snapshot.record
        decision = decide(
            snapshot.record,
            snapshot.pat_version_id,
            self.now,
            self.settings.refresh_margin_seconds,
            force=options.force,
        )
        logger.info(
            "refresh decided",
            extra={
                "refresh": decision.refresh,
                "reason": decision.reason,
                "record_problem": snapshot.record_problem,
                "current": _describe(snapshot.record, self.now),
            },
        )
        if not decision.refresh and not options.dry_run:
            return self._result("skipped", decision.reason, snapshot.record)

        # The exchange may use the time that one write attempt does not need.
        budget.require(AWS_ATTEMPT_SECONDS + MIN_ATTEMPT_SECONDS, "the exchange")
        deadline = budget.deadline - AWS_ATTEMPT_SECONDS
        answer = self.exchange.exchange(snapshot.pat, deadline, self._clock)
        self.now = self._clock()
        self._warn_about_lifetime(answer.expires_at)
        if self.settings.verify_url:
            self.exchange.verify(self.settings.verify_url, answer.token, deadline)
        record = TokenRecord(
            token=answer.token,
            expires_at=answer.expires_at,
            refreshed_at=self.now,
            pat_version_id=snapshot.pat_version_id,
        )
        if options.dry_run:
            result = self._result("dry_run", decision.reason, record)
            return {**result, "would_refresh": decision.refresh}

        version_id = self.store.publish(record)
        self.published = record
        result = self._result("refreshed", decision.reason, record)
        return {**result, "version_id": version_id}

    def _result(
        self, status: str, reason: str, record: TokenRecord | None
    ) -> dict[str, Any]:
        return {"status": status, "reason": reason, **_describe(record, self.now)}

    def _clock(self) -> datetime:
        """AWS's time when known (else the host's), advanced by elapsed time."""
        anchor_time, anchor_monotonic = self._anchor
        return anchor_time + timedelta(seconds=time.monotonic() - anchor_monotonic)

    def _warn_about_lifetime(self, expires_at: datetime | None) -> None:
        if expires_at is None:
            logger.warning(
                "the new token's expiry is unknown (no readable JWT exp, no "
                "LifeTime): it will be renewed every 10 minutes and "
                "TokenSecondsToExpiry cannot be reported"
            )
            return
        lifetime = (expires_at - self.now).total_seconds()
        between_writes = lifetime - self.settings.refresh_margin_seconds
        if between_writes < MIN_WRITE_INTERVAL_SECONDS:
            logger.warning(
                "token lifetime too short for the refresh margin: the secret will be "
                "written more often than AWS advises (once per 10 minutes); lower "
                "REFRESH_BEFORE_EXPIRY_SECONDS or expect the version quota to be hit",
                extra={
                    "token_lifetime_seconds": round(lifetime),
                    "refresh_margin_seconds": self.settings.refresh_margin_seconds,
                },
            )


def _describe(record: TokenRecord | None, now: datetime) -> dict[str, Any]:
    """Fields that name a token without revealing it."""
    if record is None:
        return {"fingerprint": None, "expires_at": None, "seconds_to_expiry": None}
    left = record.seconds_left(now)
    return {
        "fingerprint": record.fingerprint,
        "expires_at": format_timestamp(record.expires_at),
        "seconds_to_expiry": None if left is None else int(left),
    }
