"""The registry of kinds, and where numba keeps its compiled kernels."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

from chunkwise.workloads import (
    Cacheable,
    ItemList,
    UnknownWorkloadError,
    get_workload,
    workload_kinds,
)
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


@pytest.fixture
def no_home_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No cache directory is set and the home one cannot be made: the temporary
    directory (here `tmp_path`) is the only candidate left."""
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    not_a_dir = tmp_path / "home-cache"
    not_a_dir.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_dir))
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path / f"chunkwise-numba-{os.getuid()}"


def test_the_temp_fallback_is_created_private(no_home_cache: Path) -> None:
    assert ensure_numba_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(no_home_cache)
    assert stat.S_IMODE(no_home_cache.stat().st_mode) == 0o700


def test_a_temp_dir_open_to_others_is_refused(no_home_cache: Path) -> None:
    no_home_cache.mkdir()
    no_home_cache.chmod(0o755)
    assert not ensure_numba_cache_dir()
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_a_temp_dir_of_another_user_is_refused(
    no_home_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The directory is ours; to this process, running as someone else, it is a stranger's.
    no_home_cache.mkdir(mode=0o700)
    other_uid = os.getuid() + 1
    monkeypatch.setattr(os, "getuid", lambda: other_uid)
    planted = no_home_cache.parent / f"chunkwise-numba-{other_uid}"
    no_home_cache.rename(planted)
    assert not ensure_numba_cache_dir()
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_a_symlinked_temp_dir_is_refused(no_home_cache: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    no_home_cache.symlink_to(elsewhere)
    assert not ensure_numba_cache_dir()
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_a_home_cache_writable_by_others_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    home_cache = tmp_path / "cache" / "chunkwise" / "numba"
    home_cache.mkdir(parents=True)
    home_cache.chmod(0o777)
    (tmp_path / "tmp").mkdir()
    assert ensure_numba_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "tmp" / f"chunkwise-numba-{os.getuid()}")


@pytest.mark.parametrize(
    ("kind", "cacheable", "item_list"),
    [
        ("prime_count", True, False),
        ("prime_list", False, True),
        ("sum_range", False, False),
        ("monte_carlo", False, False),
    ],
)
def test_optional_abilities_are_protocols(kind: str, cacheable: bool, item_list: bool) -> None:
    workload = get_workload(kind)
    assert isinstance(workload, Cacheable) is cacheable
    assert isinstance(workload, ItemList) is item_list
