"""A workload kind from another package, through real processes: built as a wheel and
installed with pip, loaded from its entry point by the API and the workers that have it,
listed with its package, refused while no live worker runs it and computed once one does;
a package's broken entry points are logged and left out while every other kind works."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.kind_packages.wheels import build_wheel
from tests.live import LiveSystem, live_system
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

KIND_PACKAGES = Path(__file__).resolve().parents[1] / "kind_packages"
N = 100_000
SUM_OF_SQUARES = N * (N + 1) * (2 * N + 1) // 6
BUILT_IN = ["monte_carlo", "prime_count", "prime_list", "sum_range"]

Listing = dict[str, dict[str, Any]]
"""/api/kinds by kind."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that pip installed the two kind packages into: squares (a working kind)
    and broken (entry points that cannot load)."""
    wheels = tmp_path_factory.mktemp("wheels")
    target = tmp_path_factory.mktemp("site")
    built = [str(build_wheel(KIND_PACKAGES / name, wheels)) for name in ("squares", "broken")]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    installed = subprocess.run(
        [*pip, "--target", str(target), *built], capture_output=True, text=True, timeout=120
    )
    assert installed.returncode == 0, installed.stderr
    return target


def python_path(*folders: Path) -> str:
    """PYTHONPATH with `folders` first, then whatever this process was given."""
    given = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([*map(str, folders), *([given] if given else [])])


def kinds(live: LiveSystem) -> Listing:
    response = live.http.get("/api/kinds")
    assert response.status_code == 200, response.text
    return {kind["kind"]: kind for kind in response.json()}


def submit_squares(live: LiveSystem) -> Any:
    body = {"kind": "sum_of_squares", "params": {"n": N}, "chunks": 8}
    return live.http.post("/api/jobs", json=body)


def assert_refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == "kind"
    assert body["detail"].startswith("kind: no live worker runs 'sum_of_squares'")


def listing(live: LiveSystem, when: Callable[[Listing], bool], what: str) -> Listing:
    """/api/kinds by kind, once `when` holds of it."""

    def probe() -> Listing | None:
        found = kinds(live)
        return found if when(found) else None

    return wait_for(probe, timeout_s=60, what=what)


def test_an_installed_kind_is_offered_while_a_live_worker_runs_it(
    site: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with_packages = {"PYTHONPATH": python_path(site)}
    without = {"PYTHONPATH": python_path()}
    with live_system(
        tmp_path / "system", workers=1, extra_env=with_packages, worker_env=without
    ) as live:
        # Given an API with the packages installed, and its one worker without them
        listed = kinds(live)
        assert sorted(listed) == BUILT_IN
        assert {(kind["package"], kind["workers"]) for kind in listed.values()} == {
            ("chunkwise", 1)
        }
        # Then a job of the installed kind is refused, naming it
        assert_refused(submit_squares(live))

        # When a worker with the packages joins
        live.worker_env = with_packages
        live.spawn_worker("worker2@test")
        listed = listing(live, lambda found: "sum_of_squares" in found, "sum_of_squares offered")

        # Then the kind is listed with its package and its one worker
        squares = listed["sum_of_squares"]
        assert (squares["package"], squares["workers"]) == ("chunkwise-squares", 1)
        assert squares["limits"] == {"sum_of_squares_max_n": 100_000}
        assert sorted(listed) == sorted([*BUILT_IN, "sum_of_squares"])
        assert listed["sum_range"]["workers"] == 2

        # And a job of it is computed exactly, every chunk by the worker that runs the kind:
        # the other takes chunks from the same queue and hands those back, uncounted
        accepted = submit_squares(live)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        job = live.wait_finished(job_id)
        assert job["state"] == "SUCCESS", job["error"]
        assert job["result"]["sum"] == SUM_OF_SQUARES
        chunks = live.http.get(f"/api/jobs/{job_id}/chunks").json()["items"]
        assert {(chunk["worker"], chunk["attempts"]) for chunk in chunks} == {("worker2@test", 1)}

        # And the broken entry points were logged and left out, by the API and that worker,
        # while the built-in kind one of them tried to take still computes
        assert listed["sum_range"]["package"] == "chunkwise"
        total = live.wait_finished(live.submit("sum_range", {"n": 1000}, 4))
        assert total["result"]["sum"] == 500500
        logged = capfd.readouterr().err
        for reason in (
            "missing = chunkwise_no_such_module:Missing (package chunkwise-broken-kinds) "
            "left out: ModuleNotFoundError",
            "not_a_kind = chunkwise_broken_kinds:NotAKind (package chunkwise-broken-kinds) "
            "left out: chunkwise_broken_kinds:NotAKind is not a Workload",
            "workload kind 'sum_range' is already registered",
        ):
            assert logged.count(reason) == 2, reason

        # When that worker dies, the kind is withdrawn once its lease has run out
        live.kill_worker("worker2@test")
        listing(live, lambda found: "sum_of_squares" not in found, "sum_of_squares withdrawn")
        assert_refused(submit_squares(live))
        # While a job of a built-in kind still computes on the worker left
        assert live.wait_finished(live.submit("sum_range", {"n": 9}, 1))["result"]["sum"] == 45
