"""`pytest --unit`: the tests not marked `integration`, none of which may start a process.

The unit loop is fast because it needs no broker, worker, API server or any other process.
This plugin makes that a check rather than a promise: in a `--unit` run, while a test's
fixtures are set up, while it runs and while it is torn down, every way of starting a
process raises, and the test fails naming itself, even if the code under test swallowed
the error. A test that must start processes is an integration test: mark it so.
"""

from __future__ import annotations

import multiprocessing.process
import os
import subprocess
from collections.abc import Callable, Generator
from typing import Any

import billiard.process
import pytest

UNIT_OPTION = "--unit"
INTEGRATION = "integration"

PROCESS_STARTS: list[tuple[object, str, str]] = [
    (subprocess.Popen, "__init__", "subprocess.Popen"),
    (os, "fork", "os.fork"),
    (os, "forkpty", "os.forkpty"),
    (os, "posix_spawn", "os.posix_spawn"),
    (os, "posix_spawnp", "os.posix_spawnp"),
    (multiprocessing.process.BaseProcess, "start", "multiprocessing"),
    (billiard.process.BaseProcess, "start", "billiard (Celery's pool)"),
]
"""What starts a process, as (owner, attribute, name in the error)."""


class ProcessStartedInUnitRun(RuntimeError):
    """A test of the unit loop started a process."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        UNIT_OPTION,
        action="store_true",
        help=f"run only the tests not marked {INTEGRATION}, and fail any that starts a process",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption(UNIT_OPTION):
        return
    deselected = [item for item in items if item.get_closest_marker(INTEGRATION)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(INTEGRATION)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded(item))


def _guarded(item: pytest.Item) -> Generator[None, object, object]:
    """Run one phase of `item` with process starts refused, if this is a unit run."""
    if not item.config.getoption(UNIT_OPTION):
        return (yield)
    started: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for owner, attribute, what in PROCESS_STARTS:
            if hasattr(owner, attribute):
                patch.setattr(owner, attribute, _refusing(item.nodeid, what, started))
        try:
            return (yield)
        finally:
            if started:
                # Raised here too, in case the code under test caught the first one.
                raise ProcessStartedInUnitRun(_refusal(item.nodeid, started[0]))


def _refusing(nodeid: str, what: str, started: list[str]) -> Callable[..., Any]:
    def refuse(*args: object, **kwargs: object) -> Any:
        started.append(what)
        raise ProcessStartedInUnitRun(_refusal(nodeid, what))

    return refuse


def _refusal(nodeid: str, what: str) -> str:
    return (
        f"{nodeid} started a process ({what}) in a unit run ({UNIT_OPTION}); a test that "
        f"starts processes is an integration test: mark it with pytest.mark.{INTEGRATION}"
    )
