"""No PAT and no token in any log line, metric, result or error, whatever happens."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from tests.integration.conftest import OTHER_PAT, PAT, Deployment, assert_no_secret_in

# (what the stand-in does next, the event) for every path through the handler.
SCENARIOS = [
    ("ok", "scheduled"),
    ("ok", "scheduled"),
    ("ok", "force-refresh"),
    ("ok", "dry-run"),
    ("unauthorized", "force-refresh"),
    ("null", "force-refresh"),
    ("bad_header_token", "force-refresh"),
    ("expired", "force-refresh"),
    ("redirect", "force-refresh"),
    ("html", "force-refresh"),
    ("oversize", "force-refresh"),
    ("throttled:0.2", "force-refresh"),
    ("close", "force-refresh"),
]


@pytest.fixture
def root_logger_at_debug() -> Iterator[None]:
    """Every library's DEBUG lines (botocore, urllib3) reach the captured stdout."""
    root = logging.getLogger()
    handler = _StdoutHandler()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(previous)


class _StdoutHandler(logging.Handler):
    """Writes to whatever sys.stdout is at the moment: the test's capture."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(self.format(record) + "\n")


@pytest.mark.usefixtures("root_logger_at_debug")
def test_no_secret_in_any_output_across_scenarios(deployment: Deployment):
    for behaviour, event in SCENARIOS:
        deployment.standin.queue(behaviour)
        deployment.invoke(event)
    deployment.put_pat(json.dumps({"pat": OTHER_PAT}))
    deployment.invoke("scheduled")
    deployment.put_pat("two words")
    deployment.invoke("scheduled")

    texts = [text for inv in deployment.invocations for text in inv.texts()]
    published = deployment.current_record()

    # The output was really captured: the logs name the token by its fingerprint.
    assert published["fingerprint"] in "\n".join(texts)
    assert any('"level":"INFO"' in t for t in texts)
    assert any('"POST / HTTP/1.1" 200' in t for t in texts)  # urllib3 at DEBUG
    assert sum(inv.error is not None for inv in deployment.invocations) >= 8
    assert len(deployment.standin.issued_tokens) >= 5
    assert_no_secret_in(texts, deployment.secrets())


def test_leak_check_catches_a_leak():
    with pytest.raises(AssertionError, match="leaked"):
        assert_no_secret_in(["log line with " + PAT], [PAT])


def test_event_logging_stays_off_even_when_the_environment_asks(
    deployment: Deployment,
):
    deployment.configure(POWERTOOLS_LOGGER_LOG_EVENT="true")
    marker = "event-marker-5f1c"

    invocation = deployment.invoke({"force": True, "note": marker})

    assert invocation.result["status"] == "refreshed"
    assert marker not in invocation.output
