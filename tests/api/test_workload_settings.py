"""What the API tells of workloads: each kind's limits as set, and a job's drawn seed."""

from __future__ import annotations

import pytest

from tests.api.conftest import ServeApi

pytestmark = pytest.mark.integration

MONTE_CARLO = {"amount": 1000, "rate": 0.05, "paths": 1000}


def test_kinds_list_each_kinds_limits_as_set(
    serve_api: ServeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHUNKWISE_PRIME_LIST_MAX_END", raising=False)
    monkeypatch.delenv("CHUNKWISE_WORKLOAD_LIMITS", raising=False)
    monkeypatch.setenv("CHUNKWISE_PRIME_COUNT_MAX_N", "1000000")
    with serve_api() as api:
        kinds = {kind["kind"]: kind for kind in api.http.get("/api/kinds").json()}
        refused = api.http.post(
            "/api/jobs", json={"kind": "prime_count", "params": {"n": 10**6 + 1}}
        )
    assert kinds["prime_count"]["limits"] == {
        "prime_count_max_n": 10**6,
        "prime_count_sieve_max_n": 10**13,
    }
    assert kinds["prime_list"]["limits"] == {"prime_list_max_end": 10**8}
    assert kinds["sum_range"]["limits"] == {}
    assert refused.status_code == 400
    assert "less than or equal to 1000000" in refused.json()["detail"]


def test_an_unseeded_monte_carlo_job_stores_the_seed_it_drew(serve_api: ServeApi) -> None:
    with serve_api() as api:
        ids = [
            api.http.post("/api/jobs", json={"kind": "monte_carlo", "params": MONTE_CARLO}).json()[
                "job_id"
            ]
            for _ in range(2)
        ]
        seeds = [api.http.get(f"/api/jobs/{job_id}").json()["params"]["seed"] for job_id in ids]
        seeded = api.http.post(
            "/api/jobs", json={"kind": "monte_carlo", "params": {**MONTE_CARLO, "seed": 7}}
        ).json()["job_id"]
        kept = api.http.get(f"/api/jobs/{seeded}").json()["params"]["seed"]
    assert all(isinstance(seed, int) and 0 <= seed < 2**63 for seed in seeds)
    assert seeds[0] != seeds[1]
    assert kept == 7
