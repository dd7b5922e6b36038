"""Every kind through the real system: the chunk cache, long results, monte_carlo."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete

from chunkwise.store import jobs
from chunkwise.store.cache import size as cache_size
from chunkwise.store.models import CacheEntry
from tests.live import LiveSystem

pytestmark = pytest.mark.integration

PI_1E9, PI_2E9 = 50847534, 98222287


def chunk_cache_hits(live: LiveSystem, job_id: str) -> int:
    with live.store.reader() as session:
        return sum(
            chunk.cache_hits for chunk in jobs.list_chunks(session, job_id=uuid.UUID(job_id))
        )


def cached_entries(live: LiveSystem) -> int:
    with live.store.reader() as session:
        return cache_size(session)


def test_an_overlapping_job_recomputes_only_its_uncached_blocks(live: LiveSystem) -> None:
    # Given an empty cache and pi(10^9): 59 whole blocks of 2^24, computed and kept
    with live.store.writer() as session:
        session.execute(delete(CacheEntry))
    first = live.wait_finished(live.submit("prime_count", {"n": 10**9, "method": "sieve"}, 16))
    assert first["result"]["prime_count"] == PI_1E9
    assert chunk_cache_hits(live, first["job_id"]) == 0 and first["progress"]["cached"] == 0
    assert cached_entries(live) == 59

    # When pi(2 * 10^9) runs, it reuses those 59 blocks and computes only the other 60
    second = live.wait_finished(live.submit("prime_count", {"n": 2 * 10**9, "method": "sieve"}, 32))
    assert second["result"]["prime_count"] == PI_2E9
    assert chunk_cache_hits(live, second["job_id"]) == 59
    assert cached_entries(live) == 119

    # And pi(10^9) again is served from the cache but for its ragged tail
    again = live.wait_finished(live.submit("prime_count", {"n": 10**9, "method": "sieve"}, 16))
    assert again["result"]["prime_count"] == PI_1E9
    assert chunk_cache_hits(live, again["job_id"]) == 59
    assert again["progress"]["cached"] == 15  # the last chunk holds the tail past the grid

    # While ?cache=false recomputes everything, exactly
    response = live.http.post(
        "/api/jobs",
        params={"cache": "false"},
        json={"kind": "prime_count", "params": {"n": 10**9, "method": "sieve"}, "chunks": 16},
    )
    fresh = live.wait_finished(response.json()["job_id"])
    assert fresh["result"]["prime_count"] == PI_1E9 and fresh["cache"] is False
    assert chunk_cache_hits(live, fresh["job_id"]) == 0 and fresh["progress"]["cached"] == 0


def test_a_prime_list_is_served_in_pages_and_as_a_download(live: LiveSystem) -> None:
    job = live.wait_finished(live.submit("prime_list", {"start": 0, "end": 10**6}, 16))
    assert job["state"] == "SUCCESS"
    assert job["result"]["count"] == 78498
    url = f"/api/jobs/{job['job_id']}/result"

    first = live.http.get(url, params={"limit": 5}).json()
    assert first["items"] == [2, 3, 5, 7, 11] and first["total"] == 78498
    assert first["next_offset"] == 5
    last = live.http.get(url, params={"offset": 78495, "limit": 10}).json()
    assert last["items"] == [999961, 999979, 999983] and last["next_offset"] is None

    with live.http.stream("GET", url + ".txt") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        lines = [line for line in response.iter_lines() if line]
    assert len(lines) == 78498 and lines[:3] == ["2", "3", "5"] and lines[-1] == "999983"

    assert live.http.get(url, params={"limit": 0}).status_code == 400


def test_a_kind_without_an_item_list_answers_409(live: LiveSystem) -> None:
    job = live.wait_finished(live.submit("sum_range", {"n": 100}, 2))
    response = live.http.get(f"/api/jobs/{job['job_id']}/result")
    assert response.status_code == 409 and "no item list" in response.json()["detail"]
    assert live.http.get(f"/api/jobs/{uuid.uuid4()}/result.txt").status_code == 404


def test_prime_list_algorithms_agree_through_the_system(live: LiveSystem) -> None:
    params = {"start": 999_000, "end": 1_010_000}
    sieve = live.wait_finished(live.submit("prime_list", {**params, "algorithm": "sieve"}, 4))
    trial = live.wait_finished(
        live.submit("prime_list", {**params, "algorithm": "trial_division"}, 7)
    )
    pages = [
        live.http.get(f"/api/jobs/{job['job_id']}/result", params={"limit": 10_000}).json()
        for job in (sieve, trial)
    ]
    assert pages[0]["items"] == pages[1]["items"] and pages[0]["total"] > 0


def test_monte_carlo_is_bit_identical_whatever_the_chunking(live: LiveSystem) -> None:
    params = {
        "amount": 10_000,
        "rate": 0.05,
        "volatility": 0.2,
        "years": 10,
        "paths": 200_000,
        "seed": 42,
    }
    results = [
        live.wait_finished(live.submit("monte_carlo", params, chunks))["result"]
        for chunks in (1, 7)
    ]
    for result in results:
        result.pop("duration_sec")
    assert results[0] == results[1]
    assert results[0]["mean"] > 10_000
