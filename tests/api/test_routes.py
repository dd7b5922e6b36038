"""Every route of the API, in this process (`tests/api/in_process.py`)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import update

from chunkwise.config import Settings
from chunkwise.engine.celery_app import create_celery
from chunkwise.errors import StoreUnavailableError
from chunkwise.store import Job
from chunkwise.store.models import utcnow
from chunkwise.worker.housekeeping import Retention
from chunkwise.worker.lease import Lease
from chunkwise.workloads import workload_kinds
from tests.api.in_process import Api, ServeInProcess, assert_error
from tests.waiting import wait_for

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"
"""Nothing listens on port 1: a connection is refused at once."""
HEALTHY = {"status": "ok", "workers": 0, "processes": 0, "broker": "ok", "database": "ok"}


def test_a_job_is_accepted_stored_and_its_chunks_published(api: Api) -> None:
    response = api.submit("sum_range", chunks=3, n=10)

    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.json() == {"job_id": job_id, "status": "PENDING"}
    assert response.headers["location"] == f"/api/jobs/{job_id}"
    assert api.compute_published() == [(uuid.UUID(job_id), index) for index in range(3)]


def test_a_job_reads_pending_then_done_with_its_result(api: Api) -> None:
    job_id = api.submitted("sum_range", chunks=2, n=100)

    pending = api.http.get(f"/api/jobs/{job_id}").json()
    assert pending["state"] == "PENDING" and pending["result"] is None
    assert pending["progress"] == {"completed": 0, "total": 2, "cached": 0}
    assert (pending["kind"], pending["params"], pending["cache"]) == (
        "sum_range",
        {"a": 1, "n": 100},
        True,
    )
    api.compute_published()

    done = api.http.get(f"/api/jobs/{job_id}").json()
    assert done["state"] == "SUCCESS" and done["error"] is None
    assert done["progress"] == {"completed": 2, "total": 2, "cached": 0}
    assert done["result"]["sum"] == 5050
    assert done["finished_at"] is not None and done["duration_sec"] >= 0


def test_cache_false_is_kept_with_the_job(api: Api) -> None:
    response = api.http.post(
        "/api/jobs", params={"cache": "false"}, json={"kind": "sum_range", "params": {"n": 5}}
    )
    job = api.http.get(f"/api/jobs/{response.json()['job_id']}").json()
    assert job["cache"] is False
    assert job["progress"]["total"] == 8  # the default chunk count


@pytest.mark.parametrize(
    ("body", "detail", "field"),
    [
        ({"kind": "no_such_kind", "params": {}}, "kind: unknown kind 'no_such_kind'", "kind"),
        (
            {"kind": "sum_range", "params": {"n": 0}},
            "params.n: Input should be greater",
            "params.n",
        ),
        ({"kind": "sum_range", "params": {}}, "params.n: Field required", "params.n"),
        ({"kind": "sum_range", "params": {"n": 5}, "chunks": 0}, "chunks: Input should", "chunks"),
        ({"kind": "sum_range", "params": {"n": 5}, "chunks": 17}, "chunks: Input should", "chunks"),
        ({"kind": "sum_range", "params": {"n": 5}, "extra": 1}, "extra: Extra inputs", "extra"),
        ({"params": {"n": 5}}, "kind: Field required", "kind"),
    ],
)
def test_an_invalid_job_gets_400_and_nothing_is_kept_or_sent(
    serve: ServeInProcess, body: dict[str, Any], detail: str, field: str
) -> None:
    with serve(max_chunks=16, max_queued_chunks=16) as api:
        assert_error(api.http.post("/api/jobs", json=body), 400, detail, field)
        assert api.job_count() == 0
        assert api.compute_published() == []


def test_a_body_that_is_not_json_gets_400(api: Api) -> None:
    response = api.http.post(
        "/api/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "body: not valid JSON", "body")


def test_too_many_chunks_names_the_setting(serve: ServeInProcess) -> None:
    with serve(max_chunks=4, max_queued_chunks=4) as api:
        response = api.submit(chunks=5, n=10)
    assert_error(response, 400, "chunks: Input should be less than or equal to 4", "chunks")
    assert "CHUNKWISE_MAX_CHUNKS" in response.json()["detail"]


def test_past_the_active_job_bound_a_job_gets_429_with_retry_after(serve: ServeInProcess) -> None:
    with serve(max_active_jobs=1, admission_retry_after_s=9) as api:
        api.submitted(n=10)
        refused = api.submit(n=10)

        assert_error(refused, 429, "too many unfinished jobs: 1", None)
        assert refused.headers["retry-after"] == "9"
        assert api.job_count() == 1


def test_a_broker_that_refuses_gets_503_and_no_job_is_kept(api: Api) -> None:
    unreachable = create_celery(Settings(broker_url=UNREACHABLE_BROKER))
    api.app.state.celery = unreachable
    try:
        response = api.submit(n=10)
    finally:
        unreachable.close()

    assert_error(response, 503, "the broker does not answer or refuses new chunks", None)
    assert "127.0.0.1" not in response.text
    assert api.job_count() == 0


def test_a_job_that_does_not_exist_is_404(api: Api) -> None:
    missing = uuid.uuid4()
    for path in (f"/api/jobs/{missing}", f"/api/jobs/{missing}/result"):
        assert_error(api.http.get(path), 404, f"no job with id {missing}", None)
    assert_error(api.http.post(f"/api/jobs/{missing}/cancel"), 404, "no job with id", None)
    assert_error(api.http.get("/api/jobs/not-a-uuid"), 404, "no job with id 'not-a-uuid'", None)
    assert "job ids are UUIDs" in api.http.get("/api/jobs/not-a-uuid").json()["detail"]


def test_an_expired_job_is_404_saying_when_it_expired(serve: ServeInProcess) -> None:
    with serve(result_ttl_s=86400) as api:
        job_id = api.submitted(n=10, chunks=1)
        api.compute_published()
        with api.store.writer() as session:
            long_ago = utcnow() - timedelta(days=2)
            session.execute(update(Job).where(Job.id == job_id).values(finished_at=long_ago))
        assert Retention(api.store, result_ttl_s=86400).sweep() == 1

        response = api.http.get(f"/api/jobs/{job_id}")

    assert_error(response, 404, f"job {job_id} expired on ", None)
    assert "finished jobs are kept for 1 day (CHUNKWISE_RESULT_TTL_S)" in response.json()["detail"]


def test_jobs_are_listed_newest_first_a_page_at_a_time(api: Api) -> None:
    submitted = [api.submitted(n=n, chunks=1) for n in (1, 2, 3)]
    newest_first = [str(job_id) for job_id in reversed(submitted)]

    first = api.http.get("/api/jobs", params={"limit": 2}).json()
    second = api.http.get("/api/jobs", params={"limit": 2, "offset": 2}).json()

    assert [job["job_id"] for job in first["items"]] == newest_first[:2]
    assert (first["total"], first["limit"], first["offset"], first["next_offset"]) == (3, 2, 0, 2)
    assert [job["job_id"] for job in second["items"]] == newest_first[2:]
    assert (second["offset"], second["next_offset"]) == (2, None)


@pytest.mark.parametrize(
    ("query", "field"), [({"limit": 0}, "query.limit"), ({"offset": -1}, "query.offset")]
)
def test_a_bad_page_gets_400(api: Api, query: dict[str, int], field: str) -> None:
    assert_error(api.http.get("/api/jobs", params=query), 400, field, field)


@pytest.mark.parametrize("cancel", ["POST", "DELETE"])
def test_cancel_ends_a_running_job_once(api: Api, cancel: str) -> None:
    job_id = api.submitted(n=10, chunks=2)
    path = f"/api/jobs/{job_id}/cancel" if cancel == "POST" else f"/api/jobs/{job_id}"

    cancelled = api.http.request(cancel, path)
    again = api.http.request(cancel, path)

    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "CANCELLED"
    assert_error(again, 409, f"job {job_id} already ended in CANCELLED", None)
    api.compute_published()  # its chunks arrive late and change nothing
    job = api.http.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["progress"]["completed"], job["result"]) == ("CANCELLED", 0, None)


def test_result_items_are_409_until_success_then_paged(api: Api) -> None:
    job_id = api.submitted("prime_list", chunks=3, end=100)
    early = api.http.get(f"/api/jobs/{job_id}/result")
    assert_error(early, 409, f"job {job_id} is PENDING; its items are ready on SUCCESS", None)
    assert api.http.get(f"/api/jobs/{job_id}/result.txt").status_code == 409
    api.compute_published()

    page = api.http.get(f"/api/jobs/{job_id}/result", params={"offset": 3, "limit": 5}).json()
    last = api.http.get(f"/api/jobs/{job_id}/result", params={"offset": 20, "limit": 10}).json()

    assert page == {
        "job_id": str(job_id),
        "total": 25,
        "offset": 3,
        "limit": 5,
        "items": [7, 11, 13, 17, 19],
        "next_offset": 8,
    }
    assert (last["items"], last["next_offset"]) == ([73, 79, 83, 89, 97], None)


def test_a_result_page_carries_an_etag_and_is_revalidated(api: Api) -> None:
    job_id = api.submitted("prime_list", chunks=3, end=100)
    api.compute_published()
    first = api.http.get(f"/api/jobs/{job_id}/result", params={"limit": 5})
    etag = first.headers["etag"]

    held = api.http.get(
        f"/api/jobs/{job_id}/result", params={"limit": 5}, headers={"If-None-Match": etag}
    )
    other_page = api.http.get(
        f"/api/jobs/{job_id}/result", params={"offset": 5}, headers={"If-None-Match": etag}
    )

    assert first.json()["items"] == [2, 3, 5, 7, 11]
    assert first.headers["cache-control"] == "private, no-cache"
    assert (held.status_code, held.content, held.headers["etag"]) == (304, b"", etag)
    assert other_page.status_code == 200 and other_page.headers["etag"] != etag


def test_the_whole_result_downloads_as_text(api: Api) -> None:
    job_id = api.submitted("prime_list", chunks=2, start=10, end=30)
    api.compute_published()

    response = api.http.get(f"/api/jobs/{job_id}/result.txt")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert f'filename="{job_id}.txt"' in response.headers["content-disposition"]
    assert response.text == "11\n13\n17\n19\n23\n29\n"


def test_a_kind_without_an_item_list_has_no_result_pages(api: Api) -> None:
    job_id = api.submitted(n=10, chunks=1)
    api.compute_published()

    response = api.http.get(f"/api/jobs/{job_id}/result")

    assert_error(response, 409, "a sum_range job has no item list", None)


def test_health_reports_the_broker_the_store_and_live_workers(api: Api) -> None:
    assert api.http.get("/health").json() == HEALTHY
    assert Lease(api.store, name="node-a", interval_s=1.0, processes=4).beat()

    def counted() -> Response | None:
        response = api.http.get("/health")
        return response if response.json()["workers"] == 1 else None

    response = wait_for(counted, timeout_s=2.0, what="the next probe to count the node")
    assert response.status_code == 200
    assert (response.json()["workers"], response.json()["processes"]) == (1, 4)


def test_health_is_503_when_the_store_does_not_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def store_down() -> None:
        raise StoreUnavailableError("connection refused")

    monkeypatch.setattr(api.store, "reader", store_down)

    def refused() -> Response | None:
        response = api.http.get("/health")
        return response if response.status_code == 503 else None

    response = wait_for(refused, timeout_s=2.0, what="/health to show the store down")
    assert response.status_code == 503
    assert response.json() == HEALTHY | {"status": "unavailable", "database": "unreachable"}


def test_kinds_lists_every_kind_with_its_schema_and_limits(serve: ServeInProcess) -> None:
    with serve(workload_limit_overrides={"prime_list_max_end": 5000}) as api:
        kinds = {kind["kind"]: kind for kind in api.http.get("/api/kinds").json()}

    assert sorted(kinds) == workload_kinds()
    prime_list = kinds["prime_list"]
    assert prime_list["limits"] == {"prime_list_max_end": 5000}
    assert {"start", "end"} <= set(prime_list["params_schema"]["properties"])
    assert prime_list["description"].startswith("List the primes")
    assert kinds["sum_range"]["limits"] == {}


def test_the_root_says_what_the_service_is(api: Api) -> None:
    root = api.http.get("/").json()
    assert root["name"] == "chunkwise"
    assert root["jobs"] == "/api/jobs" and root["health"] == "/health"
    assert root["kinds"] == workload_kinds()
