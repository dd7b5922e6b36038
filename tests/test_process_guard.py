"""`pytest --unit` leaves out integration tests and fails a test that starts a process, even
one whose code swallowed the refusal; without the option, integration tests run too.

The suite under test runs in this process (`runpytest_inprocess`), so the refused starts
never happen."""

from __future__ import annotations

import pytest

STARTS_PROCESSES = """
import multiprocessing
import os
import subprocess
import sys

import pytest


def test_runs_a_command():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_forks_and_swallows_the_error():
    try:
        pid = os.fork()
    except Exception:
        return
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def test_starts_a_pool_process():
    process = multiprocessing.get_context("spawn").Process(target=print)
    process.start()
    process.join()


@pytest.fixture
def server():
    return subprocess.Popen([sys.executable, "-c", "pass"])


def test_needs_a_server(server):
    server.wait()


@pytest.mark.integration
def test_marked():
    assert sum(range(3)) == 3


def test_pure():
    assert sum(range(4)) == 6
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nmarkers =\n    integration: starts processes\n")
    pytester.makepyfile(test_suite=STARTS_PROCESSES)
    return pytester


def test_a_unit_run_fails_every_test_that_starts_a_process(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-p", "tests.process_guard", "--unit")

    result.assert_outcomes(passed=1, failed=3, errors=1, deselected=1)
    refusal = "*ProcessStartedInUnitRun: test_suite.py::{} started a process ({})*"
    for test, what in [
        ("test_runs_a_command", "subprocess.Popen"),
        ("test_forks_and_swallows_the_error", "os.fork"),
        ("test_starts_a_pool_process", "multiprocessing"),
        ("test_needs_a_server", "subprocess.Popen"),
    ]:
        result.stdout.fnmatch_lines([refusal.format(test, what)])
    result.stdout.fnmatch_lines(
        [
            "*in a unit run (--unit); a test that starts processes is an integration test: mark it"
            " with pytest.mark.integration"
        ]
    )


def test_without_the_option_integration_tests_run_too(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-p", "tests.process_guard", "-k", "pure or marked")

    result.assert_outcomes(passed=2, deselected=4)
