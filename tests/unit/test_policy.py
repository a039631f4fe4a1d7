"""The refresh policy decides from the record, the PAT version and the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from matrix42_token.record import TokenRecord
from refresher.policy import decide

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
MARGIN = 1800
PAT_VERSION = "pat-v1"


def record(expires_in: float | None, age: float = 60.0) -> TokenRecord:
    expires_at = None if expires_in is None else NOW + timedelta(seconds=expires_in)
    return TokenRecord(
        token="tok",
        expires_at=expires_at,
        refreshed_at=NOW - timedelta(seconds=age),
        pat_version_id=PAT_VERSION,
    )


@pytest.mark.parametrize(
    ("current", "refresh", "reason"),
    [
        (None, True, "no_usable_record"),
        (record(3600), False, "fresh"),
        (record(MARGIN), False, "fresh"),
        (record(MARGIN - 1), True, "expiring"),
        (record(-5), True, "expiring"),
        (record(None, age=599), False, "fresh"),
        (record(None, age=600), True, "unknown_expiry"),
    ],
)
def test_decide_table(current: TokenRecord | None, refresh: bool, reason: str):
    decision = decide(current, PAT_VERSION, NOW, MARGIN)

    assert (decision.refresh, decision.reason) == (refresh, reason)


def test_decide_changed_pat_refreshes_fresh_token():
    decision = decide(record(3600), "pat-v2", NOW, MARGIN)

    assert (decision.refresh, decision.reason) == (True, "pat_changed")


def test_decide_record_without_pat_version_refreshes():
    legacy = TokenRecord(token="tok", expires_at=NOW + timedelta(hours=1))

    assert decide(legacy, PAT_VERSION, NOW, MARGIN).reason == "pat_changed"


def test_decide_force_wins_over_fresh_token():
    decision = decide(record(3600), PAT_VERSION, NOW, MARGIN, force=True)

    assert (decision.refresh, decision.reason) == (True, "forced")


def test_decide_unknown_expiry_without_refreshed_at_refreshes():
    bare = TokenRecord(token="tok", expires_at=None, pat_version_id=PAT_VERSION)

    assert decide(bare, PAT_VERSION, NOW, MARGIN).reason == "unknown_expiry"
