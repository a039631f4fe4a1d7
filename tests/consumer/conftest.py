"""Consumer fixtures: a client whose GetSecretValue calls are counted, a settable clock.

The refresher's world (moto's server, the stand-in, both secrets) comes from the
integration fixtures; the counter observes calls through botocore's event system,
so nothing is patched and every read still crosses loopback HTTP.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from matrix42_token.record import TokenRecord
from tests.integration.conftest import (  # noqa: F401 (fixtures used here)
    Deployment,
    deployment,
    moto_server,
    secretsmanager,
    standin,
)

READ_EVENT = "before-call.secrets-manager.GetSecretValue"


class ReadCounter:
    """Counts the GetSecretValue calls ``client`` makes, from any number of threads."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self._lock = threading.Lock()
        client.meta.events.register(READ_EVENT, self._count)

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.calls += 1


class FakeClock:
    """A clock the test moves by hand; starts at the real time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def reads(secretsmanager: Any) -> ReadCounter:  # noqa: F811 (the fixture)
    """A Secrets Manager client on moto's server, and a count of its reads."""
    return ReadCounter(boto3.client("secretsmanager"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def record_json(token: str, expires_in: float | None, now: datetime) -> str:
    """A record as the refresher writes it, expiring ``expires_in`` s after now."""
    expires_at = None if expires_in is None else now + timedelta(seconds=expires_in)
    record = TokenRecord(token=token, expires_at=expires_at, refreshed_at=now)
    return record.to_json()


def publish(world: Deployment) -> str:
    """Run the refresher now; return the token it published."""
    invocation = world.invoke("force-refresh")
    assert invocation.error is None, invocation.error
    return world.current_record()["token"]
