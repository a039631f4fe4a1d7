"""Settings, read once from the environment at the edge of the handler."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from refresher.errors import ConfigError

MARKETPLACE_EXCHANGE_URL = "https://accounts.matrix42.com/api/session/tokens/exchange"
DEFAULT_METHOD = "GET"
# With the default 10-minute schedule, a token is refreshed with 20 to 30 minutes
# left, so a failed refresh still has two more scheduled tries before expiry.
DEFAULT_REFRESH_MARGIN_SECONDS = 1800
MAX_REFRESH_MARGIN_SECONDS = 7 * 24 * 3600

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 64 * 1024

_METHODS = ("GET", "POST")

# Powertools' names for the logs and metrics. template.yaml sets both variables;
# the defaults keep local runs (make invoke) working under the same names.
SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or "matrix42-token-refresher"
METRICS_NAMESPACE = (
    os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Matrix42TokenRefresher"
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """What one deployment of the refresher is configured to do."""

    pat_secret_id: str
    token_secret_id: str
    exchange_url: str = MARKETPLACE_EXCHANGE_URL
    exchange_method: str = DEFAULT_METHOD
    refresh_margin_seconds: int = DEFAULT_REFRESH_MARGIN_SECONDS
    verify_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read and check every setting; raise ConfigError naming the first bad one."""
        pat_secret_id = _required(env, "PAT_SECRET_ID")
        token_secret_id = _required(env, "TOKEN_SECRET_ID")
        if pat_secret_id == token_secret_id:
            raise ConfigError(
                "PAT_SECRET_ID and TOKEN_SECRET_ID must name two different secrets: "
                "consumers may read the token secret, never the PAT"
            )
        return cls(
            pat_secret_id=pat_secret_id,
            token_secret_id=token_secret_id,
            exchange_url=_url(env, "EXCHANGE_URL", MARKETPLACE_EXCHANGE_URL),
            exchange_method=_method(env),
            refresh_margin_seconds=_margin(env),
            verify_url=_url(env, "VERIFY_URL", None),
        )


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _required(env: Mapping[str, str], name: str) -> str:
    value = _optional(env, name)
    if value is None:
        raise ConfigError(f"{name} is not set: set it to the secret's name or ARN")
    return value


def _method(env: Mapping[str, str]) -> str:
    method = (_optional(env, "EXCHANGE_METHOD") or DEFAULT_METHOD).upper()
    if method not in _METHODS:
        raise ConfigError(
            "EXCHANGE_METHOD must be GET (Marketplace) or POST "
            "(Enterprise Service Management)"
        )
    return method


def _margin(env: Mapping[str, str]) -> int:
    name = "REFRESH_BEFORE_EXPIRY_SECONDS"
    raw = _optional(env, name)
    if raw is None:
        return DEFAULT_REFRESH_MARGIN_SECONDS
    try:
        margin = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds") from None
    if not 0 < margin <= MAX_REFRESH_MARGIN_SECONDS:
        raise ConfigError(
            f"{name} must be between 1 and {MAX_REFRESH_MARGIN_SECONDS} seconds"
        )
    return margin


def _url(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    url = _optional(env, name) or default
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if parts.port == 0:  # raises ValueError for a port out of range
            raise ValueError("port 0")
        requests.Request("GET", url).prepare()
    except (ValueError, requests.RequestException):
        host = None
    if host is None or parts.scheme not in ("https", "http"):
        raise ConfigError(f"{name} must be an https:// URL with a host")
    if parts.username or parts.password:
        raise ConfigError(f"{name} must not carry credentials")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{name} must use https: plain http is allowed only for loopback hosts "
            "(local runs), and a PAT must never cross a network in clear text"
        )
    return url


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
