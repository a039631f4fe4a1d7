"""Settings come from the environment once, with every bad value named."""

from __future__ import annotations

import pytest

from refresher.config import (
    DEFAULT_REFRESH_MARGIN_SECONDS,
    MARKETPLACE_EXCHANGE_URL,
    Settings,
)
from refresher.errors import ConfigError

REQUIRED = {"PAT_SECRET_ID": "pat", "TOKEN_SECRET_ID": "token"}


def test_settings_defaults_point_at_marketplace():
    settings = Settings.from_env(REQUIRED)

    assert settings.exchange_url == MARKETPLACE_EXCHANGE_URL
    assert settings.exchange_method == "GET"
    assert settings.refresh_margin_seconds == DEFAULT_REFRESH_MARGIN_SECONDS
    assert settings.verify_url is None


def test_settings_values_are_trimmed_and_method_upper_cased():
    env = {
        **REQUIRED,
        "EXCHANGE_METHOD": " post ",
        "REFRESH_BEFORE_EXPIRY_SECONDS": " 900 ",
        "VERIFY_URL": "",
    }

    settings = Settings.from_env(env)

    assert settings.exchange_method == "POST"
    assert settings.refresh_margin_seconds == 900
    assert settings.verify_url is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8042/x",
        "http://localhost/x",
        "http://[::1]:80/x",
        "http://127.8.9.10/x",
        "https://m42.example.com/m42Services/api/ApiToken/GenerateAccessTokenFromApiToken",
    ],
)
def test_settings_accept_https_or_loopback_http(url: str):
    assert Settings.from_env({**REQUIRED, "EXCHANGE_URL": url}).exchange_url == url


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://10.0.0.1/x", "must use https"),
        ("http://localhost.example.com/x", "must use https"),
        ("accounts.matrix42.com/api", "https:// URL with a host"),
        ("https:///path", "https:// URL with a host"),
        ("https://[::1/x", "https:// URL with a host"),
        ("https://u@example.com/", "must not carry credentials"),
        ("https://example.com:0/x", "https:// URL with a host"),
        ("https://example.com:99999/x", "https:// URL with a host"),
        ("https://exa mple.com/x", "https:// URL with a host"),
    ],
)
def test_settings_reject_unsafe_exchange_url(url: str, match: str):
    with pytest.raises(ConfigError, match=match):
        Settings.from_env({**REQUIRED, "EXCHANGE_URL": url})


def test_settings_missing_pat_secret_names_variable():
    with pytest.raises(ConfigError, match="PAT_SECRET_ID is not set"):
        Settings.from_env({"TOKEN_SECRET_ID": "token"})


def test_settings_same_secret_twice_is_rejected():
    with pytest.raises(ConfigError, match="must name two different secrets"):
        Settings.from_env({"PAT_SECRET_ID": "one", "TOKEN_SECRET_ID": "one"})


@pytest.mark.parametrize("margin", ["-1", "0", "604801", "1e3", "ten"])
def test_settings_reject_bad_margin(margin: str):
    with pytest.raises(ConfigError, match="REFRESH_BEFORE_EXPIRY_SECONDS"):
        Settings.from_env({**REQUIRED, "REFRESH_BEFORE_EXPIRY_SECONDS": margin})
