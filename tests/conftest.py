"""Fixtures every test gets: a clean, offline AWS environment."""

from __future__ import annotations

import os

import pytest

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def offline_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region; nothing inherited can reach real AWS.

    No POWERTOOLS_* variable is set: the handler must work without them, as it
    does under `make invoke`.
    """
    for name in list(os.environ):
        inherited_aws = name.startswith(("AWS_", "POWERTOOLS_"))
        if inherited_aws or name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
