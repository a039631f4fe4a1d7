"""The refresh policy: whether this run exchanges the PAT and publishes a new token."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from matrix42_token.record import TokenRecord

# AWS advises writing a secret at most once every 10 minutes: every version is kept
# for 24 hours and a secret may hold about 100 of them.
MIN_WRITE_INTERVAL_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class Decision:
    refresh: bool
    reason: str


def decide(
    record: TokenRecord | None,
    pat_version_id: str,
    now: datetime,
    margin_seconds: int,
    force: bool = False,
) -> Decision:
    """Refresh when forced, when nothing usable is published, or when it is due."""
    if force:
        return Decision(True, "forced")
    if record is None:
        return Decision(True, "no_usable_record")
    if record.pat_version_id != pat_version_id:
        return Decision(True, "pat_changed")
    left = record.seconds_left(now)
    if left is None:
        return _decide_unknown_expiry(record, now)
    if left < margin_seconds:
        return Decision(True, "expiring")
    return Decision(False, "fresh")


def _decide_unknown_expiry(record: TokenRecord, now: datetime) -> Decision:
    # Nobody said when this token expires: renew it as often as AWS advises
    # writing a secret, no more.
    if record.refreshed_at is None:
        return Decision(True, "unknown_expiry")
    age = (now - record.refreshed_at).total_seconds()
    if age >= MIN_WRITE_INTERVAL_SECONDS:
        return Decision(True, "unknown_expiry")
    return Decision(False, "fresh")
