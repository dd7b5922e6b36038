"""Jobs end to end: HTTP API, real broker, real worker processes, the store."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from chunkwise.engine.celery_app import RUN_CHUNK_TASK
from chunkwise.engine.dispatch import publish_chunks
from chunkwise.engine.runner import ChunkRunner, Computed
from chunkwise.store import jobs, recording
from chunkwise.worker.node import build_worker_app
from chunkwise.workloads import get_workload
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_the_seed_example_rises_to_16_chunks_and_counts_17984(live: LiveSystem) -> None:
    # Given the seed's own request, sent as curl -d sends it (form-encoded label, JSON body)
    response = live.http.post(
        "/api/jobs",
        content=b'{"kind":"prime_count","params":{"n":200000},"chunks":16}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 202
    assert response.json()["status"] == "PENDING"
    job_id = response.json()["job_id"]

    # When we poll it to the end
    seen: list[int] = []

    def finished() -> dict[str, Any] | None:
        job = live.job(job_id)
        seen.append(job["progress"]["completed"])
        return job if job["state"] in ("SUCCESS", "FAILURE") else None

    job = wait_for(finished, timeout_s=60, interval_s=0.005, what="the seed job")

    # Then the completed count only rose, reached 16, and the count is exact
    assert seen == sorted(seen) and seen[-1] == 16
    assert job["state"] == "SUCCESS"
    assert job["progress"] == {"completed": 16, "total": 16, "cached": 0}
    assert job["result"]["prime_count"] == 17984
    assert job["result"]["duration_sec"] >= 0
    assert job["started_at"] and job["finished_at"]


@pytest.mark.parametrize(
    ("kind", "n", "chunks", "key", "expected"),
    [
        ("prime_count", 10**6, 32, "prime_count", 78498),
        ("sum_range", 10_000, 8, "sum", 50005000),
    ],
)
def test_known_answers(
    live: LiveSystem, kind: str, n: int, chunks: int, key: str, expected: int
) -> None:
    job = live.wait_finished(live.submit(kind, {"n": n}, chunks))
    assert job["state"] == "SUCCESS"
    assert job["result"][key] == expected
    assert job["progress"] == {"completed": chunks, "total": chunks, "cached": 0}


def test_both_workers_record_chunks_of_one_job(live: LiveSystem) -> None:
    # Chunks of tens of milliseconds, so neither worker can drain the queue alone
    job_id = live.submit("prime_count", {"n": 10**10, "method": "sieve"}, 64)
    job = live.wait_finished(job_id)
    assert job["result"]["prime_count"] == 455052511
    with live.store.reader() as session:
        chunks = jobs.list_chunks(session, job_id=uuid.UUID(job_id))
    assert len(chunks) == 64
    assert {chunk.worker for chunk in chunks} == set(live.worker_names)


def test_the_same_job_twice_gives_the_same_result(live: LiveSystem) -> None:
    first = live.wait_finished(live.submit("prime_count", {"n": 3_000_000}, 24))
    second = live.wait_finished(live.submit("prime_count", {"n": 3_000_000}, 24))
    assert first["result"]["prime_count"] == second["result"]["prime_count"] == 216816


def test_a_chunk_delivered_twice_changes_nothing(live: LiveSystem) -> None:
    # Given a finished job
    job_id = live.submit("sum_range", {"n": 10_000}, 8)
    before = live.wait_finished(job_id)
    with live.store.reader() as session:
        chunk = jobs.list_chunks(session, job_id=uuid.UUID(job_id))[3]
    # When its chunk 3 task is called again, as a redelivery would
    task = build_worker_app(live.settings, live.store).tasks[RUN_CHUNK_TASK]
    task(job_id, 3)
    # Then neither the count, nor the result, nor who computed the chunk changes
    after = live.job(job_id)
    assert after["progress"] == before["progress"] == {"completed": 8, "total": 8, "cached": 0}
    assert after["result"] == before["result"]
    with live.store.reader() as session:
        again = jobs.list_chunks(session, job_id=uuid.UUID(job_id))[3]
    assert (again.partial, again.worker) == (chunk.partial, chunk.worker)


def test_a_redelivery_mid_job_counts_once(live: LiveSystem) -> None:
    # Given a job stored but not published, run here by the worker's own task code
    with live.store.writer() as session:
        job = jobs.create_job(
            session,
            kind="sum_range",
            params={"n": 100},
            specs=[{"lo": 1, "hi": 50}, {"lo": 51, "hi": 100}],
        )
    task = build_worker_app(live.settings, live.store).tasks[RUN_CHUNK_TASK]
    # When chunk 0 arrives twice, then chunk 1
    task(str(job.id), 0)
    task(str(job.id), 0)
    assert live.job(str(job.id))["progress"] == {"completed": 1, "total": 2, "cached": 0}
    task(str(job.id), 1)
    # Then the job ends with the exact sum
    final = live.job(str(job.id))
    assert final["state"] == "SUCCESS" and final["result"]["sum"] == 5050


def test_a_chunk_that_raises_fails_the_job_with_its_message(live: LiveSystem) -> None:
    # Given a job whose chunk 1 is malformed, delivered to the real workers
    specs: list[dict[str, Any]] = [{"lo": 1, "hi": 10}, {"lo": "not a number", "hi": 20}]
    with live.store.writer() as session:
        job = jobs.create_job(session, kind="sum_range", params={"n": 20}, specs=specs)
    publish_chunks(build_worker_app(live.settings, live.store), job_id=job.id, count=len(specs))
    # Then the job fails, naming the chunk and the error
    final = live.wait_finished(str(job.id))
    assert final["state"] == "FAILURE"
    assert "chunk 1 failed" in final["error"] and "ValueError" in final["error"]
    assert final["result"] is None


def test_health_counts_the_live_workers(live: LiveSystem) -> None:
    response = live.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "workers": 2,
        "processes": 2,
        "broker": "ok",
        "database": "ok",
    }


def test_a_forged_message_cannot_widen_a_chunk(live: LiveSystem) -> None:
    # Given a job stored with its chunks
    specs = [{"lo": 1, "hi": 50}, {"lo": 51, "hi": 100}]
    with live.store.writer() as session:
        job = jobs.create_job(session, kind="sum_range", params={"n": 100}, specs=specs)
    app = build_worker_app(live.settings, live.store)
    # When someone who reaches the broker sends chunk 0 with a wider range of their own
    wider = {"lo": 1, "hi": 10**6}
    app.send_task(RUN_CHUNK_TASK, args=(str(job.id), 0, "sum_range", wider), task_id="forged")
    # and then the real chunks are published
    publish_chunks(app, job_id=job.id, count=len(specs))
    # Then the result is computed from the stored chunks only
    final = live.wait_finished(str(job.id))
    assert final["state"] == "SUCCESS" and final["result"]["sum"] == 5050


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "prime_count", "params": {"n": 9999}, "chunks": 16}, "params.n"),
        ({"kind": "prime_count", "params": {"n": 200000}, "chunks": 0}, "chunks"),
        ({"kind": "prime_count", "params": {"n": 200000}, "chunks": 129}, "chunks"),
        ({"kind": "prime_count", "params": {"n": "abc"}, "chunks": 16}, "params.n"),
        ({"kind": "prime_count", "params": {"n": 10**18}, "chunks": 16}, "params.n"),
        ({"kind": "nope", "params": {"n": 200000}, "chunks": 16}, "kind"),
        ({"kind": "sum_range", "params": {"n": 10, "x": 1}, "chunks": 1}, "params.x"),
        ({"params": {"n": 10}}, "kind"),
    ],
)
def test_invalid_bodies_get_400_naming_the_field(
    live: LiveSystem, body: dict[str, object], field: str
) -> None:
    response = live.http.post("/api/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field.split(".")[-1] in response.json()["detail"]


def test_a_one_megabyte_body_gets_413(live: LiveSystem) -> None:
    body = b'{"kind": "prime_count", "params": {"n": 200000}, "pad": "' + b"x" * 2**20 + b'"}'
    response = live.http.post(
        "/api/jobs", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]


def test_malformed_json_gets_400(live: LiveSystem) -> None:
    response = live.http.post(
        "/api/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_unknown_job_is_404_with_a_message(live: LiveSystem, job_id: str) -> None:
    response = live.http.get(f"/api/jobs/{job_id}")
    assert response.status_code == 404
    assert job_id in response.json()["detail"]


def test_jobs_are_listed_newest_first_in_pages(live: LiveSystem) -> None:
    ids = [live.submit("sum_range", {"n": 100 + i}, 1) for i in range(3)]
    page = live.http.get("/api/jobs", params={"limit": 2}).json()
    assert [item["job_id"] for item in page["items"]] == ids[::-1][:2]
    assert page["next_offset"] == 2 and page["total"] >= 3
    rest = live.http.get("/api/jobs", params={"limit": 2, "offset": 2}).json()
    assert rest["items"][0]["job_id"] == ids[0]
    assert live.http.get("/api/jobs", params={"limit": 0}).status_code == 400


def test_openapi_and_docs_are_served(live: LiveSystem) -> None:
    spec = live.http.get("/openapi.json").json()
    assert "/api/jobs" in spec["paths"] and "/health" in spec["paths"]
    assert live.http.get("/docs").status_code == 200


def test_cors_allows_the_configured_origin(live: LiveSystem) -> None:
    response = live.http.options(
        "/api/jobs",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = live.http.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_the_api_never_waits_on_the_broker_for_reads(live: LiveSystem) -> None:
    # Status reads come from the store: they answer even for a job no worker touched.
    with live.store.writer() as session:
        job = jobs.create_job(
            session, kind="sum_range", params={"n": 1}, specs=[{"lo": 1, "hi": 1}]
        )
    body = live.job(str(job.id))
    assert body["state"] == "PENDING" and body["progress"] == {
        "completed": 0,
        "total": 1,
        "cached": 0,
    }
    with pytest.raises(httpx.HTTPStatusError):
        live.http.get("/api/jobs/" + str(uuid.uuid4())).raise_for_status()


def recorded_chunks(live: LiveSystem, job_id: str) -> int:
    with live.store.reader() as session:
        chunks = jobs.list_chunks(session, job_id=uuid.UUID(job_id))
    return sum(chunk.partial is not None for chunk in chunks)


def workers_of(live: LiveSystem, job_id: str) -> set[str | None]:
    with live.store.reader() as session:
        return {chunk.worker for chunk in jobs.list_chunks(session, job_id=uuid.UUID(job_id))}


def test_cancelling_a_running_job_stops_its_work(live: LiveSystem) -> None:
    # Given a sieve of 128 chunks of about a tenth of a second each, under way on both
    # workers (computed afresh: an earlier test may have cached these blocks)
    body = {"kind": "prime_count", "params": {"n": 10**11, "method": "sieve"}, "chunks": 128}
    response = live.http.post("/api/jobs", params={"cache": "false"}, json=body)
    job_id = response.json()["job_id"]
    wait_for(
        lambda: live.job(job_id)["state"] in ("STARTED", "PROGRESS"),
        timeout_s=30,
        interval_s=0.01,
        what="the job to start",
    )

    # When it is cancelled
    response = live.http.post(f"/api/jobs/{job_id}/cancel")

    # Then it is CANCELLED at once, with no result, part way through
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["state"] == "CANCELLED" and cancelled["result"] is None
    assert cancelled["finished_at"] is not None
    at_cancel = cancelled["progress"]["completed"]
    assert at_cancel < 128

    # And once a later job has been computed by both workers, every chunk queued before it
    # was delivered and skipped and every chunk in flight at the cancel has ended
    def a_later_job_on_both_workers() -> bool:
        later = live.wait_finished(live.submit("sum_range", {"n": 10_000}, 16), timeout_s=30)
        assert later["state"] == "SUCCESS" and later["result"]["sum"] == 50005000
        return workers_of(live, later["job_id"]) == set(live.worker_names)

    wait_for(a_later_job_on_both_workers, timeout_s=60, what="a later job on both workers")

    # And nothing of the cancelled job was counted or kept after the cancel
    final = live.job(job_id)
    assert final["state"] == "CANCELLED" and final["result"] is None and final["error"] is None
    assert final["progress"] == {"completed": at_cancel, "total": 128, "cached": 0}
    assert final["finished_at"] == cancelled["finished_at"]
    assert recorded_chunks(live, job_id) == at_cancel


def test_a_chunk_computed_across_the_cancel_is_ignored(live: LiveSystem) -> None:
    # Given a job whose chunk 0 a worker read before the job was cancelled
    specs = [{"lo": 1, "hi": 50}, {"lo": 51, "hi": 100}]
    with live.store.writer() as session:
        job = jobs.create_job(session, kind="sum_range", params={"n": 100}, specs=specs)
    runner = ChunkRunner(live.store, live.settings.workload_limits())
    assert live.http.delete(f"/api/jobs/{job.id}").json()["state"] == "CANCELLED"

    # When that chunk's partial arrives, and then a fresh delivery of chunk 1
    with live.store.writer() as session:
        start = recording.start_chunk(session, job_id=job.id, index=0, max_attempts=5)
    assert start is not None
    runner.record(start.job, get_workload("sum_range"), 0, Computed(1275), "late")
    task = build_worker_app(live.settings, live.store).tasks[RUN_CHUNK_TASK]
    task(str(job.id), 1)

    # Then neither counts and nothing is kept
    final = live.job(str(job.id))
    assert final["state"] == "CANCELLED" and final["result"] is None
    assert final["progress"] == {"completed": 0, "total": 2, "cached": 0}
    assert recorded_chunks(live, str(job.id)) == 0


def test_delete_cancels_and_a_second_cancel_is_409(live: LiveSystem) -> None:
    with live.store.writer() as session:
        job = jobs.create_job(
            session, kind="sum_range", params={"n": 1}, specs=[{"lo": 1, "hi": 1}]
        )
    response = live.http.delete(f"/api/jobs/{job.id}")
    assert response.status_code == 200
    assert response.json()["state"] == "CANCELLED"
    again = live.http.post(f"/api/jobs/{job.id}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"job {job.id} already ended in CANCELLED; only a running job can be cancelled"
    )
    assert live.job(str(job.id))["state"] == "CANCELLED"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_cancelling_a_finished_job_is_409_and_changes_nothing(
    live: LiveSystem, method: str
) -> None:
    job_id = live.submit("sum_range", {"n": 100}, 2)
    before = live.wait_finished(job_id)
    path = f"/api/jobs/{job_id}/cancel" if method == "POST" else f"/api/jobs/{job_id}"
    response = live.http.request(method, path)
    assert response.status_code == 409
    assert "already ended in SUCCESS" in response.json()["detail"]
    assert "only a running job can be cancelled" in response.json()["detail"]
    assert live.job(job_id) == {**before, "duration_sec": before["duration_sec"]}


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_cancelling_an_unknown_job_is_404(live: LiveSystem, method: str, job_id: str) -> None:
    path = f"/api/jobs/{job_id}/cancel" if method == "POST" else f"/api/jobs/{job_id}"
    response = live.http.request(method, path)
    assert response.status_code == 404
    assert job_id in response.json()["detail"]


def test_openapi_declares_the_cancel_routes(live: LiveSystem) -> None:
    paths = live.http.get("/openapi.json").json()["paths"]
    for operation in (
        paths["/api/jobs/{job_id}/cancel"]["post"],
        paths["/api/jobs/{job_id}"]["delete"],
    ):
        assert {"200", "404", "409"} <= set(operation["responses"])
