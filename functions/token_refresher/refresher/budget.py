"""One time budget per invocation, shared by the exchange and the AWS calls.

Lambda stops a function at its timeout wherever it is. Every call here starts
only if it can finish in the time left, so a slow dependency ends the run with a
clear OutOfTimeError instead of a kill in the middle of a write.
"""

from __future__ import annotations

import time

from refresher.errors import OutOfTimeError

# Kept back at the very end for logging the outcome and flushing metrics.
FINAL_RESERVE_SECONDS = 1.0


class TimeBudget:
    """The monotonic deadline of one invocation."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds - FINAL_RESERVE_SECONDS

    @classmethod
    def from_context(cls, context: object) -> TimeBudget:
        return cls(context.get_remaining_time_in_millis() / 1000)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def require(self, seconds: float, before: str) -> None:
        """Raise OutOfTimeError unless ``seconds`` are left for ``before``."""
        left = self.left()
        if left < seconds:
            raise OutOfTimeError(
                f"stopped before {before}: {max(left, 0):.1f} s of the invocation "
                f"left, {seconds:.0f} s needed; raise the function's timeout"
            )
