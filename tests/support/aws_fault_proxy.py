"""A loopback HTTP proxy in front of moto's server that injects AWS faults.

boto3 reaches it through ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, so botocore's real
retry, timeout and error-parsing code runs against what it sends back. Every request
is forwarded verbatim (method, path, headers, body) to the upstream server and its
answer relayed, unless a rule applies to the request's operation, which is read from
the ``X-Amz-Target`` header (``secretsmanager.PutSecretValue`` is ``PutSecretValue``):

- ``fail``: answer with an AWS JSON error (status, ``x-amzn-ErrorType``, a body with
  ``__type`` and ``message``), as botocore's JSON parser expects it;
- ``delay``: hold the request for some seconds before forwarding it, or (with
  ``forward_first``) forward it at once and hold back the answer;
- ``cut``: close the connection without an answer, before or after forwarding;
- ``fail_secret``: on ``BatchGetSecretValue``, move one secret from ``SecretValues``
  to ``Errors``, as AWS reports a per-secret failure inside a successful batch call;
- ``shift_date``: move the ``Date`` of every answer, as a host clock that is off
  sees AWS's time.

Rules for one operation are used in the order they were added; ``times=None`` means
every time. ``calls`` lists every operation received, failed and cut ones included.
Everything is thread-safe; ``stop()`` wakes requests that are being held.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from scripts.loopback import LoopbackService, QuietServer

AWS_JSON_TYPE = "application/x-amz-json-1.1"
# How Secrets Manager words a KMS key policy or grant that refuses the caller; the
# error code is a plain AccessDeniedException, only the message tells them apart.
KMS_ACCESS_DENIED_MESSAGE = "Access to KMS is not allowed"

# HTTP status per error code, from the Secrets Manager API reference (Common
# Errors and each operation's Errors section).
ERROR_STATUS: dict[str, int] = {
    "AccessDeniedException": 400,
    "DecryptionFailure": 400,
    "EncryptionFailure": 400,
    "InternalFailure": 500,
    "InternalServiceError": 500,
    "InvalidParameterException": 400,
    "InvalidRequestException": 400,
    "LimitExceededException": 400,
    "PreconditionNotMetException": 400,
    "ResourceExistsException": 400,
    "ResourceNotFoundException": 400,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
}
_DEFAULT_MESSAGES: dict[str, str] = {
    "AccessDeniedException": "The caller is not authorized to perform this action.",
    "DecryptionFailure": "The secret value cannot be decrypted with its KMS key.",
    "EncryptionFailure": "The secret value cannot be encrypted with its KMS key.",
    "InternalServiceError": "An error occurred on the server side.",
    "InvalidRequestException": "You can't perform this operation on the secret "
    "because it was marked for deletion.",
    "LimitExceededException": "The request would exceed a Secrets Manager quota.",
    "ResourceNotFoundException": "Secrets Manager can't find the specified secret.",
    "ThrottlingException": "Rate exceeded",
}
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_UPSTREAM_TIMEOUT_SECONDS = 30.0


@dataclasses.dataclass
class _Rule:
    """One fault for one operation; ``remaining`` None means every time."""

    operation: str
    action: str  # "fail", "delay", "cut" or "fail_secret"
    remaining: int | None
    status: int = 0
    code: str = ""
    message: str = ""
    seconds: float = 0.0
    forward_first: bool = False
    secret_id: str = ""


@dataclasses.dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def _times(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ValueError("times must be at least 1, or None for every time")
    return times


class _Handler(BaseHTTPRequestHandler):
    server: QuietServer
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        answer = self.server.owner._answer(
            self.command, self.path, list(self.headers.items()), body
        )
        if answer is None:
            self.close_connection = True
            return
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines and bodies may carry secret values."""


class AwsFaultProxy(LoopbackService):
    """Forwards to ``upstream_url``; ``url`` is where boto3 should send requests."""

    handler = _Handler

    def __init__(self, upstream_url: str, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError("upstream_url must be http://host:port")
        super().__init__(host)
        self._upstream = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._calls: list[str] = []
        self._date_shift = 0.0

    @property
    def url(self) -> str:
        """Where boto3 should send its requests."""
        return self.base_url

    # Rules

    def fail(
        self,
        operation: str,
        code: str,
        times: int | None = 1,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer ``operation`` with the AWS error ``code`` instead of forwarding."""
        if status is None:
            if code not in ERROR_STATUS:
                raise ValueError(f"no known HTTP status for {code!r}: pass status=")
            status = ERROR_STATUS[code]
        text = message if message is not None else _DEFAULT_MESSAGES.get(code, code)
        self._add(_Rule(operation, "fail", _times(times), status, code, text))

    def delay(
        self,
        operation: str,
        seconds: float,
        times: int | None = 1,
        *,
        forward_first: bool = False,
    ) -> None:
        """Hold ``operation`` for ``seconds``: before forwarding it, or (with
        ``forward_first``) after it took effect upstream, before answering."""
        rule = _Rule(operation, "delay", _times(times), seconds=seconds)
        rule.forward_first = forward_first
        self._add(rule)

    def cut(
        self, operation: str, times: int | None = 1, *, forward_first: bool = False
    ) -> None:
        """Close the connection without an answer; with ``forward_first`` the
        request takes effect upstream and only its answer is lost."""
        rule = _Rule(operation, "cut", _times(times))
        rule.forward_first = forward_first
        self._add(rule)

    def fail_secret(
        self,
        secret_id: str,
        code: str,
        times: int | None = 1,
        message: str | None = None,
    ) -> None:
        """Report ``secret_id`` under ``Errors`` in BatchGetSecretValue answers."""
        text = message if message is not None else _DEFAULT_MESSAGES.get(code, code)
        rule = _Rule("BatchGetSecretValue", "fail_secret", _times(times), code=code)
        rule.message, rule.secret_id = text, secret_id
        self._add(rule)

    def shift_date(self, seconds: float) -> None:
        """Move the ``Date`` header of every answer by ``seconds``."""
        with self._lock:
            self._date_shift = float(seconds)

    def reset(self) -> None:
        """Forget rules, calls and the date shift."""
        with self._lock:
            self._rules.clear()
            self._calls.clear()
            self._date_shift = 0.0

    @property
    def calls(self) -> list[str]:
        """The operations received so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    # Answering

    def _take(self, operation: str) -> _Rule | None:
        """Record a call and use up the first rule for its operation."""
        with self._lock:
            self._calls.append(operation)
            for rule in self._rules:
                if rule.operation == operation:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def _answer(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Answer | None:
        """What to send back; None means close the connection without an answer."""
        target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
        rule = self._take(target.rpartition(".")[2])
        if rule is None:
            return self._forward(method, path, headers, body)
        if rule.action == "fail":
            return self._error(rule)
        if rule.action == "fail_secret":
            return self._without_secret(
                self._forward(method, path, headers, body), rule
            )
        if rule.forward_first:
            answer = self._forward(method, path, headers, body)
            if rule.action == "cut" or self._stopping.wait(rule.seconds):
                return None
            return answer
        if rule.action == "cut" or self._stopping.wait(rule.seconds):
            return None
        return self._forward(method, path, headers, body)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Answer:
        connection = http.client.HTTPConnection(
            *self._upstream, timeout=_UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            connection.putrequest(
                method, path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            relayed = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in _HOP_BY_HOP
            ]
            answer = _Answer(response.status, response.reason, relayed, response.read())
        finally:
            connection.close()
        return self._dated(answer)

    def _error(self, rule: _Rule) -> _Answer:
        body = json.dumps({"__type": rule.code, "message": rule.message}).encode()
        headers = [
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("x-amzn-ErrorType", rule.code),
            ("Content-Type", AWS_JSON_TYPE),
        ]
        reason = http.client.responses.get(rule.status, "Error")
        return self._dated(_Answer(rule.status, reason, headers, body))

    def _without_secret(self, answer: _Answer, rule: _Rule) -> _Answer:
        if answer.status != 200:
            return answer
        data = json.loads(answer.body)
        kept, moved = [], False
        for value in data.get("SecretValues", []):
            if rule.secret_id in (value.get("Name"), value.get("ARN")):
                moved = True
            else:
                kept.append(value)
        if moved:
            data["SecretValues"] = kept
            error = {
                "SecretId": rule.secret_id,
                "ErrorCode": rule.code,
                "Message": rule.message,
            }
            data.setdefault("Errors", []).append(error)
        return dataclasses.replace(answer, body=json.dumps(data).encode())

    def _dated(self, answer: _Answer) -> _Answer:
        """Set ``Date``: the upstream's (or now) moved by the configured shift."""
        with self._lock:
            shift = self._date_shift
        others = [(k, v) for k, v in answer.headers if k.lower() != "date"]
        upstream = next((v for k, v in answer.headers if k.lower() == "date"), None)
        moment = _parse_date(upstream) or datetime.now(UTC)
        if not shift and upstream is not None:
            return answer
        date = email.utils.format_datetime(moment + timedelta(seconds=shift), True)
        return dataclasses.replace(answer, headers=[*others, ("Date", date)])


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
