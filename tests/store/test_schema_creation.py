"""Processes started together on a new store all create its schema and carry on."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from chunkwise.store.models import Base

pytestmark = pytest.mark.integration

PROCESSES = 4
ROUNDS = 3
"""Fresh stores per test: one round rarely loses the race; three together lose it often."""
EXIT_TIMEOUT_S = 60.0
EXCEPTION_LINE = re.compile(r"[\w.]+: ")

# Each process imports everything first, says so, and waits for the word to go, so the
# four upgrade_schema calls start within a millisecond or so of each other.
CREATE_SCHEMA = """
import sys
from chunkwise.store import Store
store = Store(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
store.upgrade_schema()
"""


def create_schema_at_once(url: str) -> list[subprocess.CompletedProcess[str]]:
    """Start PROCESSES processes that each create the schema at `url`, all at once."""
    argv = [sys.executable, "-c", CREATE_SCHEMA, url]
    processes = [
        subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=EXIT_TIMEOUT_S)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def last_line(outcome: subprocess.CompletedProcess[str]) -> str:
    """The exception line a failed process printed last, or its exit code."""
    lines = [line for line in outcome.stderr.splitlines() if EXCEPTION_LINE.match(line)]
    return lines[-1] if lines else f"exit code {outcome.returncode}"


def assert_all_created(url: str) -> None:
    outcomes = create_schema_at_once(url)
    failures = [last_line(outcome) for outcome in outcomes if outcome.returncode != 0]
    assert failures == []
    engine = create_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_processes_creating_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        assert_all_created(f"sqlite:///{tmp_path / f'store-{round_}.db'}")


def test_processes_creating_a_new_postgresql_store_at_once_all_succeed(
    new_postgres_database: Callable[[], str],
) -> None:
    for _ in range(ROUNDS):
        assert_all_created(new_postgres_database())
