"""The exchange client: trade the PAT for a bearer token over HTTPS.

One requests Session, explicit timeouts, no redirects, a capped body. Transient
failures are retried by tenacity until the invocation's time budget runs out;
refusals and malformed answers are final on the first try.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import urllib3
from aws_lambda_powertools import Logger

from refresher.answer import (
    ExchangeAnswer,
    check_status,
    is_transient,
    parse_answer,
    read_server_time,
    reference_time,
)
from refresher.config import (
    CONNECT_TIMEOUT_SECONDS,
    MAX_ANSWER_BYTES,
    READ_TIMEOUT_SECONDS,
    SERVICE_NAME,
    is_loopback,
)
from refresher.errors import (
    ExchangeAnswerError,
    ExchangeUnavailableError,
    TokenVerifyError,
)

if TYPE_CHECKING:
    import tenacity

logger = Logger(service=SERVICE_NAME, child=True)

MAX_ATTEMPTS = 5
# An attempt is not started with less time than this left in the budget.
MIN_ATTEMPT_SECONDS = 1.0
_CHUNK_BYTES = 8192


class _TransientFailure(Exception):
    """One attempt failed in a way that a later attempt may not."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.retry_after = retry_after


class ExchangeClient:
    """Exchanges a PAT at one URL; also checks a token against a verify URL."""

    def __init__(self, url: str, method: str, session: requests.Session) -> None:
        self.url = url
        self.method = method
        self.host = urlsplit(url).netloc
        self._session = session

    def exchange(
        self, pat: str, deadline: float, clock: Callable[[], datetime]
    ) -> ExchangeAnswer:
        """Return the new token, valid by ``clock`` (AWS's) and by the answer's."""
        status, headers, body = self._send_with_retries(
            self.method, self.url, pat, deadline
        )
        check_status(status, self.host)
        now = reference_time(headers.get("Date"), clock())
        return parse_answer(body, self.host, now)

    def verify(self, url: str, token: str, deadline: float) -> None:
        """Call ``url`` with the new token; raise TokenVerifyError unless it is 2xx."""
        status, _, _ = self._send_with_retries(
            "GET", url, token, deadline, read_body=False
        )
        if not 200 <= status < 300:
            raise TokenVerifyError(
                f"{urlsplit(url).netloc} answered HTTP {status} to the new token, so "
                "it was not published: check VERIFY_URL and the PAT's permissions"
            )

    def _send_with_retries(
        self,
        method: str,
        url: str,
        credential: str,
        deadline: float,
        read_body: bool = True,
    ) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
        # Imported on first use: most runs take the skip path and never retry,
        # and in Lambda, which ships no bytecode, every cold start that imports
        # tenacity compiles it (README, "Performance").
        import tenacity

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_TransientFailure),
            wait=_wait_for_retry_after,
            stop=tenacity.stop_any(
                tenacity.stop_after_attempt(MAX_ATTEMPTS), _StopAtDeadline(deadline)
            ),
            before_sleep=_log_retry,
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    return self._send_within(
                        deadline, method, url, credential, read_body
                    )
        except _TransientFailure as exc:
            raise ExchangeUnavailableError(
                f"{urlsplit(url).netloc}: {exc} (gave up after {attempts} "
                "attempt(s) within the invocation's time budget)"
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _send_within(
        self, deadline: float, *args: Any
    ) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
        """One attempt that returns by the deadline, however slowly the peer talks.

        requests' timeouts bound each wait for data, so a peer that drips its
        headers a byte at a time could outlast the invocation. The attempt runs
        in a daemon thread; at the deadline it is abandoned (its connection dies
        with its own read timeout) and the run fails cleanly instead.
        """
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT_SECONDS:
            raise _TransientFailure("no time left for another attempt")
        outcome: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

        def attempt() -> None:
            try:
                outcome.put((True, self._send_once(deadline, left, *args)))
            except BaseException as exc:  # handed to the waiting thread
                outcome.put((False, exc))

        threading.Thread(target=attempt, name="matrix42-exchange", daemon=True).start()
        try:
            succeeded, value = outcome.get(timeout=left)
        except queue.Empty:
            raise _TransientFailure(
                "timed out: no whole answer by the deadline"
            ) from None
        if not succeeded:
            raise value
        return value

    def _send_once(
        self,
        deadline: float,
        left: float,
        method: str,
        url: str,
        credential: str,
        read_body: bool,
    ) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
        timeout = (min(CONNECT_TIMEOUT_SECONDS, left), min(READ_TIMEOUT_SECONDS, left))
        headers = {
            "Authorization": f"Bearer {credential}",
            "Accept": "application/json",
        }
        try:
            with self._session.request(
                method,
                url,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
                proxies=_proxies_for(url),
            ) as response:
                if is_transient(response.status_code):
                    raise _TransientFailure(
                        f"HTTP {response.status_code}",
                        _retry_after_seconds(response.headers.get("Retry-After")),
                    )
                if not read_body:
                    return response.status_code, response.headers, b""
                body = _read_capped(response, deadline, urlsplit(url).netloc)
                return response.status_code, response.headers, body
        except requests.Timeout as exc:
            raise _TransientFailure("timed out") from exc
        except requests.ConnectionError as exc:
            raise _TransientFailure("connection failed or was refused") from exc


class _StopAtDeadline:
    """Stop when the next wait would leave no time for another attempt.

    A plain callable: tenacity's ``stop_any`` takes it beside its own stop classes.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        start_next = time.monotonic() + retry_state.upcoming_sleep
        return start_next + MIN_ATTEMPT_SECONDS > self.deadline


def _wait_for_retry_after(retry_state: tenacity.RetryCallState) -> float:
    """Honour a server's Retry-After; otherwise back off exponentially with jitter."""
    import tenacity  # on first use, as in _send_with_retries

    failure = retry_state.outcome.exception() if retry_state.outcome else None
    retry_after = getattr(failure, "retry_after", None)
    if retry_after is not None:
        return retry_after
    backoff = tenacity.wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.5)
    return backoff(retry_state)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if _is_number(value.strip()):
        return float(value.strip())
    moment = read_server_time(value)
    if moment is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _read_capped(response: requests.Response, deadline: float, host: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if _is_number(declared) and int(declared) > MAX_ANSWER_BYTES:
        raise ExchangeAnswerError(_too_large(host))
    body = bytearray()
    try:
        while chunk := _read_some(response.raw, deadline):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise ExchangeAnswerError(_too_large(host))
    except urllib3.exceptions.DecodeError as exc:
        raise ExchangeAnswerError(
            f"{host} answered a body that does not decode as its Content-Encoding says"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _TransientFailure("the answer was cut off or timed out") from exc
    return bytes(body)


def _read_some(raw: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """What has arrived of the body, waiting no longer than the deadline allows."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _TransientFailure("the answer arrived too slowly")
    # The read timeout bounds one wait for data, not the whole body: a server
    # that drips a byte at a time would otherwise outlast the invocation.
    sock = getattr(raw.connection, "sock", None)
    if sock is not None:
        sock.settimeout(min(left, READ_TIMEOUT_SECONDS))
    return raw.read1(_CHUNK_BYTES, decode_content=True)


def _is_number(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _proxies_for(url: str) -> dict[str, None] | None:
    # A loopback exchange (a local run) never goes through a proxy set in the
    # environment: the PAT would cross it in clear text.
    host = urlsplit(url).hostname or ""
    loopback = is_loopback(host)
    return {"http": None, "https": None, "all": None} if loopback else None


def _too_large(host: str) -> str:
    return (
        f"{host} answered more than {MAX_ANSWER_BYTES} bytes, far more than a token: "
        "check EXCHANGE_URL"
    )


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    failure = retry_state.outcome.exception() if retry_state.outcome else None
    logger.warning(
        "exchange attempt failed, retrying",
        extra={
            "attempt": retry_state.attempt_number,
            "failure": str(failure),
            "wait_seconds": round(retry_state.upcoming_sleep, 2),
        },
    )
