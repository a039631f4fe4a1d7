"""``requests`` authentication with the published bearer token, retried once on 401.

Needs the ``requests`` extra: ``pip install "matrix42-token[requests]"``.
"""

from __future__ import annotations

import logging
from typing import Any

from requests import PreparedRequest, Response
from requests.auth import AuthBase
from requests.exceptions import UnrewindableBodyError
from requests.utils import rewind_body

from matrix42_token.reader import TokenReader
from matrix42_token.record import fingerprint

logger = logging.getLogger(__name__)

_SCHEME = "Bearer "


class Matrix42Auth(AuthBase):
    """Sends ``Authorization: Bearer <token>``; on a 401 re-reads and retries once.

    The retry happens only when the secret holds a different token by then, and
    only when the request body can be sent again: bytes, text and seekable files
    can, generators and other one-shot streams cannot, so their 401 is returned.
    """

    def __init__(self, reader: TokenReader | None = None) -> None:
        """Use ``reader``, or a new TokenReader configured from the environment.

        Args:
            reader: The reader to take tokens from; share one per process.

        Raises:
            TokenConfigError: No reader given and ``TOKEN_SECRET_ID`` is not set.
        """
        self.reader = reader if reader is not None else TokenReader()

    def __repr__(self) -> str:
        return f"Matrix42Auth(reader={self.reader!r})"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = _SCHEME + self.reader.get_token()
        request.register_hook("response", self.handle_401)
        return request

    def handle_401(self, response: Response, **kwargs: Any) -> Response:
        """Response hook: after a 401, re-read the token and send the request again."""
        if response.status_code != 401:
            return response
        sent = _sent_token(response.request)
        self.reader.invalidate(sent)
        if not _can_resend(response.request):
            logger.info("got 401; the request body cannot be sent again, no retry")
            return response
        token = self.reader.get_token()
        if token == sent:
            logger.info("got 401 for token %s; no newer token to retry with", _fp(sent))
            return response
        logger.info("got 401 for token %s; retrying with %s", _fp(sent), _fp(token))
        return _resend(response, token, **kwargs)


def _sent_token(request: PreparedRequest) -> str | None:
    header = request.headers.get("Authorization") or ""
    return header[len(_SCHEME) :] if header.startswith(_SCHEME) else None


def _fp(token: str | None) -> str:
    return fingerprint(token) if token else "(none)"


def _can_resend(request: PreparedRequest) -> bool:
    """Whether the body is absent, in memory, or a stream that rewinds."""
    if request.body is None or isinstance(request.body, bytes | str):
        return True
    try:
        rewind_body(request)
    except UnrewindableBodyError:
        return False
    return True


def _resend(response: Response, token: str, **kwargs: Any) -> Response:
    """Send a copy of the refused request with ``token``; keep the 401 in history."""
    # Read and close the refused answer so its connection goes back to the pool.
    _ = response.content
    response.close()
    retry = response.request.copy()
    retry.headers["Authorization"] = _SCHEME + token
    # The adapter, not the session, sends it: response hooks (this one too) do not
    # run again, so there is exactly one retry.
    answer = response.connection.send(retry, **kwargs)
    answer.history.append(response)
    answer.request = retry
    return answer
