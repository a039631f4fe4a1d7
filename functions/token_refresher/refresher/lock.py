"""Refreshes of one token secret on one host run one at a time.

In Lambda, reserved concurrency 1 already keeps two refreshes apart. Local runs
(`make invoke` twice, or tests in threads) share a host, and this file lock keeps
them apart there: the second waits, then reads the record the first published.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from refresher.budget import TimeBudget

_POLL_SECONDS = 0.05


def _lock_path(secret_key: str) -> Path:
    digest = hashlib.sha256(secret_key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"matrix42-token-refresher-{digest}.lock"


@contextlib.contextmanager
def refresh_lock(
    secret_key: str, budget: TimeBudget, needed_seconds: float
) -> Iterator[None]:
    """Hold the host-wide lock for one secret; give up when time runs short.

    ``secret_key`` names the secret wherever it lives: its endpoint and its id.
    """
    with _lock_path(secret_key).open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                budget.require(
                    needed_seconds,
                    "starting, while another refresh of the same token secret on "
                    "this host was still running",
                )
                time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
