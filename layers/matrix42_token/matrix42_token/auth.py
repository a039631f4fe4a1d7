"""``requests`` authentication with the published bearer token, retried once on 401.

Needs the ``requests`` extra: ``pip install "matrix42-token[requests]"``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.auth import AuthBase
from requests.exceptions import UnrewindableBodyError
from requests.utils import DEFAULT_PORTS, rewind_body

from matrix42_token.reader import TokenReader
from matrix42_token.record import Matrix42TokenError, fingerprint

logger = logging.getLogger(__name__)

_SCHEME = "Bearer "


class Matrix42Auth(AuthBase):
    """Sends ``Authorization: Bearer <token>``; on a 401 re-reads and retries once.

    The retry happens only when the secret holds a different token by then, and
    only when the request body can be sent again: bytes, text and seekable files
    can, generators and other one-shot streams cannot, so their 401 is returned.
    Only a 401 to the token this sent, from the scheme, host and port it was sent
    to, counts: one after a redirect elsewhere is returned as it is.
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
        token = self.reader.get_token()
        request.headers["Authorization"] = _SCHEME + token
        # requests shares a request's hooks with its redirects and its retry, so
        # one _Retry sees them all.
        retry = _Retry(self.reader, token, request.url)
        request.register_hook("response", retry.handle_401)
        return request


class _Retry:
    """One request's 401 handling: where its token went, and whether it retried."""

    def __init__(self, reader: TokenReader, token: str, url: str | None) -> None:
        self.reader = reader
        self.token = token
        self.origin = _origin(url)
        self.retried = False

    def handle_401(self, response: Response, **kwargs: Any) -> Response:
        """Response hook: after a 401, re-read the token and send the request again."""
        request = response.request
        if (
            response.status_code != 401
            or self.retried
            or request.headers.get("Authorization") != _SCHEME + self.token
            or _origin(request.url) != self.origin
        ):
            # Not a refusal of the token where it was attached (a redirect to
            # another origin carries none), or the one retry is spent.
            return response
        sent = self.token
        self.reader.invalidate(sent)
        if not _can_resend(request):
            logger.info("got 401; the request body cannot be sent again, no retry")
            return response
        try:
            token = self.reader.get_token()
        except Matrix42TokenError as exc:
            # The caller asked for an HTTP answer: give it the 401, not our error.
            logger.warning("got 401; cannot read a newer token: %s", exc)
            return response
        if token == sent:
            logger.info(
                "got 401 for token %s; no newer token to retry with", fingerprint(sent)
            )
            return response
        logger.info(
            "got 401 for token %s; retrying with %s",
            fingerprint(sent),
            fingerprint(token),
        )
        self.retried = True
        return _resend(response, token, **kwargs)


def _origin(url: str | None) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url or "")
    # bandit's B113 takes this dict lookup for an HTTP call without a timeout.
    default_port = DEFAULT_PORTS.get(parts.scheme)  # nosec B113
    return parts.scheme, parts.hostname, parts.port or default_port


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
    refused = response.request
    retry = refused.copy()
    retry.headers["Authorization"] = _SCHEME + token
    # If the retry is redirected, requests follows from the refused request: give it
    # the new token too (the history keeps a copy as it was sent).
    response.request = refused.copy()
    refused.headers["Authorization"] = retry.headers["Authorization"]
    # The adapter, not the session, sends it: response hooks do not run on it.
    answer = response.connection.send(retry, **kwargs)
    answer.history.append(response)
    answer.request = retry
    return answer
