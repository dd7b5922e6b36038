"""The worker node keeps Celery's per-chunk log lines for DEBUG only."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from chunkwise.worker.node import PER_TASK_LOGGERS, quiet_per_chunk_logs


@pytest.fixture(autouse=True)
def _restore_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in PER_TASK_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("loglevel", ["INFO", "info", "WARNING"])
def test_per_chunk_lines_are_off_above_debug(loglevel: str) -> None:
    quiet_per_chunk_logs(loglevel)
    assert all(not logging.getLogger(name).isEnabledFor(logging.INFO) for name in PER_TASK_LOGGERS)


def test_debug_keeps_them() -> None:
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    quiet_per_chunk_logs("DEBUG")
    assert all(logging.getLogger(name).level == logging.NOTSET for name in PER_TASK_LOGGERS)
