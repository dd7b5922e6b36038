"""The dashboard's read routes: job filters, a job's chunks, workers, stats and kinds."""

from __future__ import annotations

import uuid

import pytest

from chunkwise.store import recording
from chunkwise.store import workers as worker_rows
from chunkwise.workloads import workload_kinds
from tests.api.in_process import Api, ServeInProcess, assert_error


def test_jobs_filter_by_several_states_and_by_kind(api: Api) -> None:
    done = api.submitted("sum_range", chunks=1, n=10)
    api.compute_published()
    cancelled = api.submitted("prime_count", chunks=1, n=100_000)
    api.http.post(f"/api/jobs/{cancelled}/cancel")
    pending = api.submitted("sum_range", chunks=1, n=20)

    def ids(query: str) -> list[str]:
        page = api.http.get(f"/api/jobs?{query}").json()
        assert page["total"] == len(page["items"])
        return [item["job_id"] for item in page["items"]]

    assert ids("state=SUCCESS&state=CANCELLED") == [str(cancelled), str(done)]
    assert ids("kind=sum_range") == [str(pending), str(done)]
    assert ids("kind=sum_range&state=PENDING") == [str(pending)]
    assert ids("kind=prime_count&kind=sum_range") == [str(pending), str(cancelled), str(done)]


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [("state=RUNNING", "state", "state: unknown state 'RUNNING'"), ("kind=nope", "kind", "kind:")],
)
def test_an_unknown_filter_gets_400_naming_it(
    api: Api, query: str, field: str, detail: str
) -> None:
    assert_error(api.http.get(f"/api/jobs?{query}"), 400, detail, field)


def test_a_jobs_chunks_show_pending_running_and_done(api: Api) -> None:
    job_id = api.submitted("sum_range", chunks=3, n=30)
    with api.store.writer() as session:
        worker_rows.heartbeat(session, name="node@box", holding=[f"{job_id}:1"], processes=2)
    with api.store.write_connection() as connection:
        for index in (0, 1):
            recording.start_chunk(connection, job_id=job_id, index=index, max_attempts=5)
        recording.record_chunk(connection, job_id=job_id, index=0, partial=1, worker="node@box")

    body = api.http.get(f"/api/jobs/{job_id}/chunks").json()

    assert body["job_id"] == str(job_id) and body["total"] == 3
    states = [(c["index"], c["state"], c["worker"], c["attempts"]) for c in body["items"]]
    assert states == [
        (0, "done", "node@box", 1),
        (1, "running", "node@box", 1),
        (2, "pending", None, 0),
    ]
    done = body["items"][0]
    assert done["duration_sec"] is not None and done["duration_sec"] >= 0
    assert done["cached"] is False and done["cache_hits"] == 0


def test_an_ended_jobs_unrecorded_chunks_are_pending_not_running(api: Api) -> None:
    job_id = api.submitted("sum_range", chunks=2, n=30)
    with api.store.write_connection() as connection:
        recording.start_chunk(connection, job_id=job_id, index=0, max_attempts=5)
    api.http.post(f"/api/jobs/{job_id}/cancel")
    items = api.http.get(f"/api/jobs/{job_id}/chunks").json()["items"]
    assert [item["state"] for item in items] == ["pending", "pending"]


def test_the_chunks_of_no_job_are_404(api: Api) -> None:
    assert_error(api.http.get(f"/api/jobs/{uuid.uuid4()}/chunks"), 404, "no job with id", None)


def test_workers_lists_the_live_nodes_with_their_load(api: Api) -> None:
    assert api.http.get("/api/workers").json() == {"items": []}
    with api.store.writer() as session:
        worker_rows.heartbeat(session, name="w1@host-a", holding=["x:1", "x:2"], processes=4)
    (worker,) = api.http.get("/api/workers").json()["items"]
    assert (worker["name"], worker["host"], worker["concurrency"]) == ("w1@host-a", "host-a", 4)
    assert (worker["in_flight"], worker["chunks_done"], worker["alive"]) == (2, 0, True)
    assert worker["last_heartbeat"] and worker["started_at"]


def test_stats_count_jobs_durations_and_recent_chunks(api: Api) -> None:
    empty = api.http.get("/api/stats").json()
    assert empty["jobs"]["total"] == 0 and empty["average_duration_sec"] is None
    api.submitted("sum_range", chunks=4, n=100)
    api.compute_published()
    failed = api.submitted("sum_range", chunks=1, n=5)
    api.http.post(f"/api/jobs/{failed}/cancel")

    stats = api.http.get("/api/stats").json()

    assert stats["jobs"]["total"] == 2
    assert stats["jobs"]["by_state"]["SUCCESS"] == 1
    assert stats["jobs"]["by_state"]["CANCELLED"] == 1
    assert (stats["succeeded"], stats["failed"]) == (1, 0)
    assert stats["average_duration_sec"] >= 0
    assert stats["chunks_per_sec_last_minute"] == pytest.approx(4 / 60, abs=1e-3)


def test_kinds_carry_titles_chunk_bounds_and_this_services_maxima(serve: ServeInProcess) -> None:
    with serve(workload_limit_overrides={"prime_count_max_n": 50_000}, max_chunks=64) as api:
        kinds = {kind["kind"]: kind for kind in api.http.get("/api/kinds").json()}
    assert set(kinds) == set(workload_kinds())
    prime_count = kinds["prime_count"]
    assert prime_count["title"] and prime_count["description"]
    assert prime_count["params_schema"]["properties"]["n"]["maximum"] == 50_000
    assert prime_count["limits"]["prime_count_max_n"] == 50_000
    assert prime_count["chunks"] == {"minimum": 1, "maximum": 64, "default": 8}
