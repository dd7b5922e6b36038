"""A kind from another package is offered while a live worker runs it, and refused (400,
naming it) while none does; the built-in kinds are always offered, and checking them
reads nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chunkwise.api.kind_offer import KindOffer
from chunkwise.errors import InvalidJobError
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows
from chunkwise.workloads import register_workload, workload_kinds
from tests.api.in_process import Api, ServeInProcess, assert_error
from tests.kind_plugins import Cubes, scratch_registry

BUILT_IN = ["monte_carlo", "prime_count", "prime_list", "sum_range"]


@pytest.fixture
def cubes_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cubes`, from the package acme-kinds, installed beside this API."""
    scratch_registry(monkeypatch)
    register_workload(Cubes(), package="acme-kinds")


@pytest.fixture
def api(serve: ServeInProcess, cubes_installed: None) -> Iterator[Api]:
    """An API that reads the live kinds afresh on every request."""
    with serve(live_kinds_cache_s=0) as served:
        yield served


def beat(store: Store, name: str, kinds: list[str] | None) -> None:
    with store.writer() as session:
        worker_rows.heartbeat(session, name=name, kinds=kinds)


def listed(api: Api) -> dict[str, dict[str, Any]]:
    response = api.http.get("/api/kinds")
    assert response.status_code == 200, response.text
    return {kind["kind"]: kind for kind in response.json()}


def assert_cubes_refused(api: Api) -> None:
    """A job of cubes is refused, naming the kind and its package, and it is not listed;
    while a job of a built-in kind is accepted, to wait in the queue for a worker."""
    assert_error(
        api.submit("cubes", n=10),
        400,
        "kind: no live worker runs 'cubes' (from the package acme-kinds)",
        "kind",
    )
    assert "cubes" not in listed(api)
    assert api.submit("sum_range", n=10).status_code == 202


def test_a_kind_no_live_worker_runs_is_refused_naming_it(api: Api) -> None:
    # With no worker at all
    assert_cubes_refused(api)
    # With a node of a release that does not say its kinds: it runs the built-in ones
    beat(api.store, "old@host", None)
    assert_cubes_refused(api)
    assert listed(api)["sum_range"]["workers"] == 1


def test_a_kind_is_offered_while_a_live_worker_runs_it(api: Api) -> None:
    # Given a node that runs cubes, and one that does not say (the built-in kinds)
    beat(api.store, "new@host", [*BUILT_IN, "cubes"])
    beat(api.store, "old@host", None)

    # Then /api/kinds lists cubes with its package, and each kind with its live workers
    kinds = listed(api)
    assert sorted(kinds) == workload_kinds()
    assert (kinds["cubes"]["package"], kinds["cubes"]["workers"]) == ("acme-kinds", 1)
    assert (kinds["sum_range"]["package"], kinds["sum_range"]["workers"]) == ("chunkwise", 2)
    assert kinds["cubes"]["params_schema"]["properties"]["n"]["maximum"] == 10**6

    # And a job of cubes is computed exactly
    job_id = api.submitted("cubes", chunks=4, n=100)
    api.compute_published()
    job = api.http.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "SUCCESS" and job["result"]["sum"] == (100 * 101 // 2) ** 2

    # When that node leaves, cubes is refused again
    with api.store.writer() as session:
        worker_rows.remove_worker(session, name="new@host")
    assert api.submit("cubes", n=10).status_code == 400
    assert "cubes" not in listed(api)


def test_an_unknown_kind_is_left_to_validation_which_names_the_known_ones(api: Api) -> None:
    assert_error(api.submit("fibonacci", n=10), 400, "kind: unknown kind 'fibonacci'", "kind")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The store reads of the live kinds, one entry (its TTL) each."""
    calls: list[float] = []
    real = worker_rows.live_kinds

    def counted(session: Any, *, ttl_s: float, unsaid: Any = ()) -> dict[str, int]:
        calls.append(ttl_s)
        return real(session, ttl_s=ttl_s, unsaid=unsaid)

    monkeypatch.setattr(worker_rows, "live_kinds", counted)
    return calls


@pytest.mark.usefixtures("cubes_installed")
def test_a_built_in_kind_is_checked_without_a_read(store: Store, reads: list[float]) -> None:
    offer = KindOffer(store, ttl_s=60, max_age_s=0)
    for kind in BUILT_IN:
        offer.check(kind)
    assert reads == []
    with pytest.raises(InvalidJobError):
        offer.check("cubes")
    assert reads == [60]


@pytest.mark.usefixtures("cubes_installed")
def test_the_live_kinds_are_read_once_per_cache_period(store: Store, reads: list[float]) -> None:
    cached = KindOffer(store, ttl_s=60, max_age_s=3600)
    assert cached.live_kinds() == {}
    beat(store, "new@host", ["cubes"])
    # Within the period the first read stands, however many submissions ask
    for _ in range(5):
        with pytest.raises(InvalidJobError):
            cached.check("cubes")
    assert len(reads) == 1

    fresh = KindOffer(store, ttl_s=60, max_age_s=0)
    fresh.check("cubes")
    assert fresh.offered() == [("cubes", 1), *((kind, 0) for kind in BUILT_IN)]
    assert len(reads) == 3
