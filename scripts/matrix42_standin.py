"""A local Matrix42 stand-in: the PAT exchange protocol on loopback, able to misbehave.

Used by ``make demo`` and by the integration tests. It serves:

- ``GET /api/session/tokens/exchange`` (Marketplace): ``{"RawToken": <jwt>}``
- ``POST /m42Services/api/ApiToken/GenerateAccessTokenFromApiToken`` (Enterprise
  Service Management): ``{"RawToken": <jwt>, "LifeTime": <.NET ISO 8601>}``
- ``GET /mpl-api/Check``: 200 for a bearer token it issued that has not expired
- ``/login``: an HTML login page, the target of the ``redirect`` behaviour

Every request to either exchange path is an exchange request and consumes the next
queued behaviour (``ok`` when the queue is empty). Only the token-issuing behaviours
(``ok``, ``stall``, ``expired``, ``no_exp``) check the method (405) and the PAT (401);
the others model a broken server or proxy and answer the same whatever was sent.

Run ``python -m scripts.matrix42_standin --port 8042 [--pat P ...] [--lifetime S]``; it
prints its exchange URL on one line and serves until SIGTERM or SIGINT. Nothing it
logs contains a PAT or a token.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import secrets
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from scripts.loopback import LoopbackService, QuietServer

EXCHANGE_PATH = "/api/session/tokens/exchange"
ESM_EXCHANGE_PATH = "/m42Services/api/ApiToken/GenerateAccessTokenFromApiToken"
VERIFY_PATH = "/mpl-api/Check"
LOGIN_PATH = "/login"
_ROUTES = frozenset({EXCHANGE_PATH, ESM_EXCHANGE_PATH, VERIFY_PATH, LOGIN_PATH})

# Fixed and public on purpose: tests may check signatures with it.
SIGNING_KEY = b"matrix42-standin-signing-key-not-a-secret"
ISSUER = "matrix42-standin"
DENIED_MESSAGE = "Authorization has been denied for this request."
EXPIRED_AGO_SECONDS = 600
OVERSIZE_BYTES = 2 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

TOKEN_BEHAVIOURS = frozenset({"ok", "stall", "expired", "no_exp"})
BEHAVIOURS = TOKEN_BEHAVIOURS | frozenset(
    {
        "unauthorized",
        "forbidden",
        "not_acceptable",
        "null",
        "html",
        "not_json",
        "no_raw_token",
        "empty_raw_token",
        "non_string_raw_token",
        "bad_header_token",
        "redirect",
        "oversize",
        "server_error",
        "unavailable",
        "bad_gateway",
        "throttled",
        "close",
    }
)
# Behaviours that take ":SECONDS"; the value is the default (None: required).
_ARGUMENTS: dict[str, float | None] = {"stall": None, "throttled": 1.0}

_LOG = logging.getLogger("matrix42_standin")

_LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Matrix42 - Sign in</title></head>\n"
    b'<body><form method="post" action="/login"><h1>Sign in</h1>\n'
    b'<input name="username"><input name="password" type="password">\n'
    b"<button>Sign in</button></form></body></html>\n"
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        """The value of a header, looked up case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True)
class Behaviour:
    """A parsed queue entry: a behaviour name and its optional number of seconds."""

    name: str
    seconds: float | None = None


@dataclass(frozen=True)
class Reply:
    """An HTTP answer to send."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def parse_behaviour(text: str) -> Behaviour:
    """Parse ``name`` or ``name:seconds``; raise ValueError for anything unknown."""
    name, colon, arg = text.partition(":")
    if name not in BEHAVIOURS:
        raise ValueError(f"unknown stand-in behaviour: {text!r}")
    if name not in _ARGUMENTS:
        if colon:
            raise ValueError(f"behaviour {name!r} takes no argument")
        return Behaviour(name)
    if not colon:
        default = _ARGUMENTS[name]
        if default is None:
            raise ValueError(f"behaviour {name!r} needs seconds, e.g. '{name}:0.5'")
        return Behaviour(name, default)
    return Behaviour(name, _parse_seconds(name, arg))


def _parse_seconds(name: str, arg: str) -> float:
    """A non-negative finite number of seconds."""
    try:
        seconds = float(arg)
    except ValueError:
        raise ValueError(f"behaviour {name!r}: {arg!r} is not a number") from None
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"behaviour {name!r}: seconds must be >= 0, got {arg!r}")
    return seconds


def _format_seconds(seconds: float) -> str:
    """Whole seconds as an integer (the HTTP form), fractions as they are."""
    return str(int(seconds)) if seconds.is_integer() else str(seconds)


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: Any) -> bytes:
    """JSON without whitespace."""
    return json.dumps(value, separators=(",", ":")).encode()


def make_jwt(claims: dict[str, Any], key: bytes = SIGNING_KEY) -> str:
    """A compact HS256 JWT carrying the claims."""
    header = b64url(_compact_json({"alg": "HS256", "typ": "JWT"}))
    signing_input = f"{header}.{b64url(_compact_json(claims))}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def dotnet_timestamp(epoch_seconds: int) -> str:
    """UTC time as .NET writes it: seven fractional digits and ``Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def bearer_credentials(request: RecordedRequest) -> str | None:
    """The credentials of an ``Authorization: Bearer ...`` header, if there is one."""
    scheme, _, credentials = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


def json_reply(status: int, value: Any, *headers: tuple[str, str]) -> Reply:
    """A JSON answer."""
    return Reply(status, json.dumps(value).encode(), JSON_TYPE, headers)


def message_reply(status: int, message: str, *headers: tuple[str, str]) -> Reply:
    """A JSON ``{"Message": ...}`` answer, as the Matrix42 APIs send on errors."""
    return json_reply(status, {"Message": message}, *headers)


def denied_reply() -> Reply:
    """The documented refusal."""
    return message_reply(401, DENIED_MESSAGE)


def method_not_allowed(method: str, allowed: str) -> Reply:
    """405 naming the method that is supported."""
    text = f"The requested resource does not support http method '{method}'."
    return message_reply(405, text, ("Allow", allowed))


def _html_reply(status: int, title: str) -> Reply:
    """A small HTML error page, as a proxy in front of the API would send."""
    page = f"<html><head><title>{status} {title}</title></head><body>{title}</body>"
    return Reply(status, page.encode(), HTML_TYPE)


def _oversize_reply() -> Reply:
    """About 2 MiB of valid JSON with a huge RawToken."""
    return json_reply(200, {"RawToken": "A" * OVERSIZE_BYTES})


_STATIC_REPLIES: dict[str, Reply] = {
    "unauthorized": denied_reply(),
    "forbidden": message_reply(403, "You do not have access to this resource."),
    "not_acceptable": Reply(406),
    "null": Reply(200, b"null", JSON_TYPE),
    "html": Reply(200, _LOGIN_PAGE, HTML_TYPE),
    "not_json": Reply(200, b'{"RawToken": ', JSON_TYPE),
    "no_raw_token": json_reply(200, {}),
    "empty_raw_token": json_reply(200, {"RawToken": ""}),
    "non_string_raw_token": json_reply(200, {"RawToken": 12345}),
    "bad_header_token": json_reply(200, {"RawToken": "abc def\r\nX-Evil: 1"}),
    "server_error": message_reply(500, "An error has occurred."),
    "unavailable": _html_reply(503, "Service Unavailable"),
    "bad_gateway": _html_reply(502, "Bad Gateway"),
}


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the stand-in and sends back what it decides."""

    server: QuietServer
    protocol_version = "HTTP/1.1"
    server_version = "Matrix42StandIn/1.0"

    def version_string(self) -> str:
        """The Server header: no Python version."""
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, by the stand-in's clock."""
        if timestamp is None:
            timestamp = self.server.owner.now()
        return super().date_time_string(timestamp)

    def do_GET(self) -> None:
        """Answer any method the same way: through the stand-in."""
        request = RecordedRequest(
            self.command, self.path, dict(self.headers.items()), self._read_body()
        )
        reply = self.server.owner.answer(request)
        if reply is None:
            self.close_connection = True
        else:
            self._send(reply)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        """The request body, by Content-Length."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        """Write the reply; one request per connection."""
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log method, route and status; never headers, bodies or unknown paths."""
        path = urlsplit(self.path).path
        route = path if path in _ROUTES else "<other path>"
        _LOG.debug("%s %s %s", self.command, route, int(code) if code != "-" else code)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence BaseHTTPRequestHandler's stderr log, which can echo request data."""


class Matrix42StandIn(LoopbackService):
    """A loopback HTTP server speaking the Matrix42 PAT exchange, on request badly."""

    handler = _Handler

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        valid_pats: Iterable[str] = ("demo-pat",),
        token_lifetime: int = 3600,
    ) -> None:
        if isinstance(valid_pats, str):
            raise TypeError("valid_pats must be a collection of PATs, not one string")
        super().__init__(host, port)
        self._initial_pats = frozenset(valid_pats)
        self._initial_lifetime = token_lifetime
        self.valid_pats: set[str] = set(self._initial_pats)
        self.token_lifetime = token_lifetime
        # Seconds this stand-in's clock is ahead of the host's (negative: behind).
        # It moves the Date header and the iat/exp of issued tokens, so a test can
        # model a host clock that is off from the rest of the world.
        self.clock_offset: float = 0.0
        self.requests: list[RecordedRequest] = []
        self.issued_tokens: list[str] = []
        self._expiries: dict[str, int] = {}
        self._queue: deque[Behaviour] = deque()
        self._exchange_count = 0
        self._lock = threading.Lock()

    # Addresses

    @property
    def exchange_url(self) -> str:
        """The Marketplace exchange endpoint (GET)."""
        return self.base_url + EXCHANGE_PATH

    @property
    def esm_exchange_url(self) -> str:
        """The Enterprise Service Management exchange endpoint (POST)."""
        return self.base_url + ESM_EXCHANGE_PATH

    @property
    def verify_url(self) -> str:
        """An endpoint that accepts only live tokens this stand-in issued (GET)."""
        return self.base_url + VERIFY_PATH

    # Control

    def queue(self, *behaviours: str) -> None:
        """Queue behaviours for the following exchange requests, first in first out."""
        parsed = [parse_behaviour(text) for text in behaviours]
        with self._lock:
            self._queue.extend(parsed)

    def reset(self) -> None:
        """Forget queue, requests and tokens; restore the constructor's settings."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.issued_tokens.clear()
            self._expiries.clear()
            self._exchange_count = 0
            self.valid_pats = set(self._initial_pats)
            self.token_lifetime = self._initial_lifetime
            self.clock_offset = 0.0

    @property
    def exchange_count(self) -> int:
        """How many exchange requests arrived, on either exchange path."""
        with self._lock:
            return self._exchange_count

    def now(self) -> float:
        """This stand-in's time: the host's shifted by ``clock_offset``."""
        return time.time() + self.clock_offset

    # Answering

    def answer(self, request: RecordedRequest) -> Reply | None:
        """Record a request and decide the reply; None means hang up without one."""
        with self._lock:
            self.requests.append(request)
        path = urlsplit(request.path).path
        if path in (EXCHANGE_PATH, ESM_EXCHANGE_PATH):
            return self._exchange(request, esm=path == ESM_EXCHANGE_PATH)
        if path == VERIFY_PATH:
            return self._verify(request)
        if path == LOGIN_PATH:
            return Reply(200, _LOGIN_PAGE, HTML_TYPE)
        return message_reply(404, "No HTTP resource was found for the request URI.")

    def _next_behaviour(self) -> Behaviour:
        """Count an exchange request and take the next behaviour, ``ok`` by default."""
        with self._lock:
            self._exchange_count += 1
            return self._queue.popleft() if self._queue else Behaviour("ok")

    def _exchange(self, request: RecordedRequest, *, esm: bool) -> Reply | None:
        """Answer an exchange request as the next behaviour says."""
        behaviour = self._next_behaviour()
        if behaviour.name == "stall" and self._stopping.wait(behaviour.seconds):
            return None
        if behaviour.name in TOKEN_BEHAVIOURS:
            return self._issue(request, behaviour.name, esm=esm)
        return self._misbehave(behaviour)

    def _misbehave(self, behaviour: Behaviour) -> Reply | None:
        """The answer of a behaviour that issues no token."""
        if behaviour.name == "close":
            return None
        if behaviour.name == "redirect":
            location = self.base_url + LOGIN_PATH
            return Reply(302, b"", None, (("Location", location),))
        if behaviour.name == "throttled":
            retry_after = ("Retry-After", _format_seconds(behaviour.seconds or 0.0))
            return message_reply(429, "Too many requests.", retry_after)
        if behaviour.name == "oversize":
            return _oversize_reply()
        return _STATIC_REPLIES[behaviour.name]

    def _issue(self, request: RecordedRequest, name: str, *, esm: bool) -> Reply:
        """Check method and PAT, then hand out a token of the behaviour's kind."""
        allowed = "POST" if esm else "GET"
        if request.method != allowed:
            return method_not_allowed(request.method, allowed)
        pat = bearer_credentials(request)
        if pat is None or pat not in self.valid_pats:
            return denied_reply()
        lifetime = self.token_lifetime
        now = int(self.now())
        expiry = now - EXPIRED_AGO_SECONDS if name == "expired" else now + lifetime
        if name == "no_exp":
            opaque = secrets.token_urlsafe(32)
            self._remember(opaque, expiry)
            return json_reply(200, {"RawToken": opaque})
        token = make_jwt(self._claims(pat, expiry - lifetime, expiry))
        self._remember(token, expiry)
        body: dict[str, str] = {"RawToken": token}
        if esm:
            body["LifeTime"] = dotnet_timestamp(expiry)
        return json_reply(200, body)

    def _claims(self, pat: str, issued_at: int, expiry: int) -> dict[str, Any]:
        """JWT claims; the subject names the PAT by a hash prefix, never by value."""
        subject = "pat-" + hashlib.sha256(pat.encode()).hexdigest()[:12]
        return {
            "iss": ISSUER,
            "sub": subject,
            "iat": issued_at,
            "exp": expiry,
            "jti": uuid.uuid4().hex,
        }

    def _remember(self, token: str, expiry: int) -> None:
        """Record an issued token and when it stops being accepted."""
        with self._lock:
            self.issued_tokens.append(token)
            self._expiries[token] = expiry

    def _verify(self, request: RecordedRequest) -> Reply:
        """200 for a live token this stand-in issued, 401 for anything else."""
        if request.method != "GET":
            return method_not_allowed(request.method, "GET")
        token = bearer_credentials(request)
        with self._lock:
            expiry = self._expiries.get(token) if token else None
        if expiry is None or expiry <= self.now():
            return denied_reply()
        return json_reply(200, {"Result": "OK"})


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.matrix42_standin",
        description="Serve a local Matrix42 stand-in until SIGTERM or SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8042, help="0 picks a free port")
    parser.add_argument(
        "--pat", action="append", help="a PAT to accept (repeatable; default demo-pat)"
    )
    parser.add_argument("--lifetime", type=int, default=3600, help="token seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in in the foreground; print its exchange URL on one line."""
    args = _parse_args(argv)
    pats = tuple(args.pat or ("demo-pat",))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with Matrix42StandIn(args.host, args.port, pats, args.lifetime) as standin:
        print(standin.exchange_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
