"""The cluster test's figures are printed in pytest's summary, where CI's log shows them."""

from __future__ import annotations

import pytest

REPORT_KEY = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(REPORT_KEY, [])
    if lines:
        terminalreporter.section("cluster")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> list[str]:
    """Lines to print in the summary."""
    return request.config.stash[REPORT_KEY]
