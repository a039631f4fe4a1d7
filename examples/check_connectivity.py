"""A minimal consumer: call the Matrix42 Marketplace connectivity check with the token.

    pip install "./layers/matrix42_token[requests]"
    TOKEN_SECRET_ID=<token secret ARN> python examples/check_connectivity.py

It never sees the PAT: it reads the bearer token the refresher published, with the
role's own AWS credentials. ``--url`` points it elsewhere, e.g. at the local
stand-in's check endpoint. Exit status: 0 when the check answers 2xx, 1 for any
other HTTP answer, 2 when there is no usable token or no connection.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

import requests

from matrix42_token import Matrix42Auth, Matrix42TokenError, TokenReader

MARKETPLACE_CHECK_URL = "https://mpl-api.matrix42.com/mpl-api/Check"
TIMEOUT_SECONDS = 10.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=MARKETPLACE_CHECK_URL, help="URL to GET")
    parser.add_argument(
        "--secret-id", help="token secret name or ARN (default: $TOKEN_SECRET_ID)"
    )
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS)
    return parser.parse_args(argv)


def check(url: str, reader: TokenReader, timeout: float) -> requests.Response:
    """GET ``url`` with the current bearer token."""
    return requests.get(url, auth=Matrix42Auth(reader), timeout=timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; print one line saying what happened; return the exit status."""
    args = parse_args(argv)
    host = urlsplit(args.url).netloc
    try:
        reader = TokenReader(args.secret_id)
        answer = check(args.url, reader, args.timeout)
        fingerprint = reader.get_record().fingerprint
    except Matrix42TokenError as exc:
        print(f"no usable token: {exc}", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"cannot reach {host}: {type(exc).__name__}", file=sys.stderr)
        return 2
    print(f"GET {args.url}: HTTP {answer.status_code} (token {fingerprint})")
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
