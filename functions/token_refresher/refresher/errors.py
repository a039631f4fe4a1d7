"""Errors the refresher raises; each message names the cause and the fix.

TokenRefreshError
    ConfigError          a setting is missing or malformed
    SecretReadError      a secret cannot be read, or holds no usable PAT
    TokenExchangeError   the exchange did not give a usable token
        ExchangeRefusedError    Matrix42 refused the PAT (401, 403, 406, a null answer)
        ExchangeAnswerError     the answer is malformed, oversized or redirected
        ExchangeUnavailableError  still failing after retries (network, 429, 5xx)
    TokenVerifyError     VERIFY_URL refused the new token
    SecretWriteError     the token record could not be written
    OutOfTimeError       the invocation's time ran out before a step could start

No message ever holds a PAT, a token or a response body.
"""


class TokenRefreshError(Exception):
    """Root of every error the refresher raises on purpose."""


class ConfigError(TokenRefreshError):
    """A setting is missing or malformed."""


class _AwsError(TokenRefreshError):
    """An error from Secrets Manager, with AWS's error code when there is one."""

    def __init__(self, message: str, aws_error_code: str | None = None) -> None:
        super().__init__(message)
        self.aws_error_code = aws_error_code


class SecretReadError(_AwsError):
    """A secret cannot be read, or does not hold what the refresher needs."""


class TokenExchangeError(TokenRefreshError):
    """The exchange did not give a usable token."""


class ExchangeRefusedError(TokenExchangeError):
    """Matrix42 refused to exchange the PAT; retrying will not help."""


class ExchangeAnswerError(TokenExchangeError):
    """The exchange answered, but not with a usable token."""


class ExchangeUnavailableError(TokenExchangeError):
    """The exchange could not be reached in time, even after retries."""


class TokenVerifyError(TokenRefreshError):
    """The verify URL refused the new token, so it was not published."""


class SecretWriteError(_AwsError):
    """The token record could not be written to the token secret."""


class OutOfTimeError(TokenRefreshError):
    """Too little of the invocation's time was left to start the next step."""
