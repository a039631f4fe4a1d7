"""Consumer reads for `make bench`: TokenReader beside a fixed 5-second cache.

Both read the same token secret through the same boto3 client, on the same
simulated clock: 1,000 token requests spread evenly over one token lifetime, from
the moment the token is published. Halfway through, the next token is published,
as the refresher does once the current one has less than its refresh margin left.
Reads are counted on the wire, as GetSecretValue calls through the fault proxy.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from matrix42_token import TokenReader
from matrix42_token.record import TokenRecord

LIFETIME = timedelta(seconds=3600)  # the stand-in's and a Marketplace token's
REFRESH_MARGIN = timedelta(seconds=1800)  # the refresher's default
REQUESTS = 1000
# Powertools' parameters utility caches a secret for max_age=5 seconds by default.
TTL = timedelta(seconds=5)
READ_OPERATION = "GetSecretValue"


class SimulatedClock:
    """The time the readers see; the simulation moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class TtlCache:
    """The baseline: keep the secret's token for a fixed time, then read again.

    A minimal stand-in for Powertools' ``get_secret(name, max_age=5)``, over the
    same client and clock as the reader, so that only the caching differs.
    """

    def __init__(self, client: Any, secret_id: str, clock: SimulatedClock) -> None:
        self._client, self._secret_id, self._clock = client, secret_id, clock
        self._token: str | None = None
        self._read_at = datetime.min.replace(tzinfo=UTC)

    def get_token(self) -> str:
        now = self._clock()
        if self._token is None or now - self._read_at >= TTL:
            answer = self._client.get_secret_value(SecretId=self._secret_id)
            self._token = json.loads(answer["SecretString"])["token"]
            self._read_at = now
        return self._token


@dataclasses.dataclass(frozen=True)
class ConsumerFigures:
    reads: int
    tokens: int

    @property
    def reads_per_token(self) -> float:
        return self.reads / self.tokens


def publish(client: Any, secret_id: str, issued_at: datetime) -> None:
    """Write a token record as the refresher would, issued at ``issued_at``."""
    record = TokenRecord(
        token=secrets.token_urlsafe(24),
        expires_at=issued_at + LIFETIME,
        refreshed_at=issued_at,
    )
    client.put_secret_value(SecretId=secret_id, SecretString=record.to_json())


def one_lifetime(
    get_token: Callable[[], str], clock: SimulatedClock, publish_at: Callable
) -> int:
    """Ask for a token REQUESTS times over one lifetime; the distinct tokens seen."""
    start = clock.now
    publish_at(start)
    next_publish: datetime | None = start + LIFETIME - REFRESH_MARGIN
    seen = set()
    for index in range(REQUESTS):
        clock.now = start + LIFETIME * index / REQUESTS
        if next_publish is not None and clock.now >= next_publish:
            publish_at(next_publish)
            next_publish = None
        seen.add(get_token())
    return len(seen)


def measure(
    reader_client: Any, writer_client: Any, secret_id: str, proxy: Any
) -> dict[str, ConsumerFigures]:
    """Reads and tokens seen, for the TokenReader and for the TTL cache.

    ``reader_client`` sends through ``proxy``, which counts the reads;
    ``writer_client`` publishes past it.
    """
    makers = {
        "reader": lambda clock: (
            TokenReader(secret_id, client=reader_client, clock=clock).get_token
        ),
        "ttl": lambda clock: TtlCache(reader_client, secret_id, clock).get_token,
    }
    figures = {}
    for name, make in makers.items():
        clock = SimulatedClock()
        before = proxy.calls.count(READ_OPERATION)
        tokens = one_lifetime(
            make(clock), clock, lambda moment: publish(writer_client, secret_id, moment)
        )
        reads = proxy.calls.count(READ_OPERATION) - before
        figures[name] = ConsumerFigures(reads, tokens)
    return figures
