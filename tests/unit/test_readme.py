"""The README keeps up with the code: every error has a runbook entry."""

from __future__ import annotations

import inspect
from pathlib import Path

from refresher import errors

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
# Roots that are never raised themselves.
ABSTRACT = {"TokenRefreshError", "TokenExchangeError"}


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_runbook_names_every_error_the_refresher_raises():
    raised = [
        name
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.TokenRefreshError)
        and not name.startswith("_")
        and name not in ABSTRACT
    ]
    runbook = section("Operations runbook")

    missing = [name for name in raised if f"`{name}`" not in runbook]

    assert len(raised) >= 8
    assert missing == []


def test_readme_shows_both_commands_at_the_top():
    top = README[:1500]

    assert "make demo" in top
    assert "make test" in top
