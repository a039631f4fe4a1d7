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

No message ever holds a PAT, a token or a response body.
"""


class TokenRefreshError(Exception):
    """Root of every error the refresher raises on purpose."""


class ConfigError(TokenRefreshError):
    """A setting is missing or malformed."""


class SecretReadError(TokenRefreshError):
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


class SecretWriteError(TokenRefreshError):
    """The token record could not be written to the token secret."""
