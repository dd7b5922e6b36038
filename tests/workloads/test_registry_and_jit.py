"""The registry of kinds, and where numba keeps its compiled kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chunkwise.workloads import UnknownWorkloadError, get_workload, workload_kinds
from chunkwise.workloads.jit import NUMBA_AVAILABLE, ensure_numba_cache_dir

SMALL_JOBS: dict[str, dict[str, Any]] = {
    "prime_count": {"n": 100_000},
    "prime_list": {"start": 10, "end": 5_000},
    "sum_range": {"a": 3, "n": 10**25},
    "monte_carlo": {"amount": 100, "rate": 0.03, "paths": 3_000, "seed": 1},
}


def test_every_kind_is_registered() -> None:
    assert workload_kinds() == sorted(SMALL_JOBS)


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UnknownWorkloadError, match="prime_list"):
        get_workload("fibonacci")


@pytest.mark.parametrize("kind", sorted(SMALL_JOBS))
def test_chunks_partials_and_results_are_json(kind: str) -> None:
    workload = get_workload(kind)
    params = workload.parse_params(SMALL_JOBS[kind], {})
    normalised = params.model_dump(mode="json")  # what the engine stores and re-validates
    assert workload.params_model.model_validate(normalised) == params
    chunks = workload.split(params, 3)
    assert json.loads(json.dumps(chunks)) == chunks
    partials = [workload.run_chunk(chunk) for chunk in chunks]
    assert json.loads(json.dumps(partials)) == partials
    result = workload.combine(params, partials)
    assert json.loads(json.dumps(result)) == result


def test_numba_is_in_use_with_a_writable_cache() -> None:
    assert NUMBA_AVAILABLE
    assert os.access(os.environ["NUMBA_CACHE_DIR"], os.W_OK)


def test_an_operators_cache_dir_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    ensure_numba_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


def test_a_cache_dir_is_chosen_when_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ensure_numba_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "chunkwise" / "numba")
    assert (tmp_path / "chunkwise" / "numba").is_dir()


def test_workloads_import_nothing_of_the_service_layers() -> None:
    code = (
        "import sys, chunkwise.workloads\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('celery', 'kombu', 'sqlalchemy', 'fastapi', 'starlette')]\n"
        "ours = [m for m in sys.modules if m.startswith('chunkwise.') "
        "and not m.startswith('chunkwise.workloads')]\n"
        "print(bad + ours)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
