"""Read the Matrix42 bearer token that the token refresher publishes.

``TokenReader`` reads the token secret and caches the token until shortly before it
expires. ``Matrix42Auth`` (for ``requests``) is imported on first use, so this
package works without ``requests`` installed as long as you do not use it.

Errors, all under ``Matrix42TokenError``:

    TokenConfigError     no token secret named (argument or TOKEN_SECRET_ID)
    TokenReadError       Secrets Manager refused or could not be reached
    TokenRecordError     the secret holds no token yet, or a malformed record
        TokenExpiredError    the published token has already expired
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matrix42_token.reader import TokenConfigError, TokenReader, TokenReadError
from matrix42_token.record import (
    Matrix42TokenError,
    TokenExpiredError,
    TokenRecord,
    TokenRecordError,
    fingerprint,
)

if TYPE_CHECKING:
    from matrix42_token.auth import Matrix42Auth

__all__ = [
    "Matrix42Auth",
    "Matrix42TokenError",
    "TokenConfigError",
    "TokenExpiredError",
    "TokenReadError",
    "TokenReader",
    "TokenRecord",
    "TokenRecordError",
    "fingerprint",
]


def __getattr__(name: str) -> Any:
    """Import ``Matrix42Auth`` on first use, so ``requests`` stays optional."""
    if name == "Matrix42Auth":
        from matrix42_token.auth import Matrix42Auth

        return Matrix42Auth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
