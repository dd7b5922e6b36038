"""A small load through bench/load.py: concurrent clients, every job exact."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.live import LiveSystem

pytestmark = pytest.mark.integration

BENCH_LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def bench_load() -> ModuleType:
    """bench/load.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("chunkwise_bench_load", BENCH_LOAD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_concurrent_clients_get_every_job_exact(live: LiveSystem) -> None:
    report = bench_load().run_load(live.settings.resolved_api_url, clients=10, jobs=60)

    assert report.errors == []
    assert report.finished == 60
    assert len(report.submit_s) == 60 and len(report.status_s) >= 60
