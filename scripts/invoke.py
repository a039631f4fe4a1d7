"""Run the refresher's handler in this process, as `make invoke` does.

    python -m scripts.invoke events/force-refresh.json

The handler uses whatever the environment points at: real AWS with your usual
credentials, or local endpoints (AWS_ENDPOINT_URL_SECRETS_MANAGER, EXCHANGE_URL).
Its logs and metrics go to stdout as in Lambda; the JSON result is printed last.
On failure the exit code is 1 and the cause is on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

FUNCTION_DIR = Path(__file__).resolve().parent.parent / "functions" / "token_refresher"
DEFAULT_TIMEOUT_SECONDS = 60


@dataclasses.dataclass
class LocalContext:
    """The parts of the Lambda context object the handler and Powertools read."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    function_name: str = "matrix42-token-refresher-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    aws_request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = (
        "arn:aws:lambda:local:000000000000:function:matrix42-token-refresher-local"
    )
    log_group_name: str = "local"
    log_stream_name: str = "local"
    _started: float = dataclasses.field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(0, int(left * 1000))


def load_handler() -> Any:
    """Import the function's handler the way Lambda would find it."""
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    from app import lambda_handler

    return lambda_handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "event", type=Path, help="event JSON file, e.g. events/dry-run.json"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(
            os.environ.get("INVOKE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        ),
        help="the time budget, as the function's timeout is in Lambda",
    )
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as exc:
        print(f"error: cannot read event file {args.event}: {exc}", file=sys.stderr)
        return 2
    handler = load_handler()
    from refresher.errors import TokenRefreshError

    try:
        result = handler(event, LocalContext(timeout_seconds=args.timeout))
    except TokenRefreshError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
