"""examples/check_connectivity.py run against the stand-in's check endpoint."""

from __future__ import annotations

import pytest

from examples.check_connectivity import MARKETPLACE_CHECK_URL, main, parse_args
from tests.integration.conftest import TOKEN_SECRET, Deployment


def test_check_connectivity_with_published_token_prints_200_and_exits_0(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
):
    deployment.invoke("force-refresh")
    record = deployment.current_record()

    status = main(["--url", deployment.standin.verify_url])

    out, err = capfd.readouterr()
    assert status == 0
    assert "HTTP 200" in out
    assert record["fingerprint"] in out
    assert record["token"] not in out + err


def test_check_connectivity_before_first_refresh_explains_and_exits_2(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
):
    status = main(["--url", deployment.standin.verify_url, "--secret-id", TOKEN_SECRET])

    out, err = capfd.readouterr()
    assert status == 2
    assert "no usable token" in err
    assert "none has been published" in err
    assert out == ""


def test_check_connectivity_refused_token_exits_1(
    deployment: Deployment, capfd: pytest.CaptureFixture[str]
):
    deployment.invoke("force-refresh")
    deployment.standin.reset()  # it forgets the tokens it issued: all are refused

    status = main(["--url", deployment.standin.verify_url])

    assert status == 1
    assert "HTTP 401" in capfd.readouterr().out


def test_check_connectivity_defaults_to_marketplace_check_url():
    assert parse_args([]).url == MARKETPLACE_CHECK_URL
    assert MARKETPLACE_CHECK_URL == "https://mpl-api.matrix42.com/mpl-api/Check"
