"""Every answer a seed surface gives that is not a success is in that seed's own shape,
with its own names, and never a 500: a job of another kind, a refusal (with Retry-After),
a body that fails validation, a missing token, a job not found, a result too large.

In-process API (tests/api/in_process.py): chunks are computed here, as a worker would."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import Response

from chunkwise.engine import ChunkRunner
from tests.api.in_process import Api, ServeInProcess
from tests.memory_broker import take_published

PROJECTION = {"data": {"amount": 10_000, "rate": 0.05, "paths": 1000}}


def seed_002_error(answer: Response, status: int, code: str) -> dict[str, Any]:
    """Seed 002's error: `{code, message, details, request_id}`, the id the answer's own."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"code", "message", "details", "request_id"}, body
    assert body["code"] == code and body["message"]
    assert body["request_id"] == answer.headers["x-request-id"]
    return body


def seed_003_error(answer: Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"status", "message"} and body["status"] == "error", body
    message: str = body["message"]
    return message


def seed_004_error(answer: Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"message"}, body
    message: str = body["message"]
    return message


def test_reads_of_a_job_of_another_kind_are_409_not_500(api: Api) -> None:
    primes = api.submitted("prime_list", end=1000)
    total = api.submitted("sum_range", n=100)
    demo = api.http.post("/api/demo/jobs", json={"kind": "sum_range", "params": {"n": 10}})
    api.compute_published()

    for path in (f"/jobs/{primes}", f"/v1/jobs/{primes}"):
        answer = api.http.get(path)
        assert answer.status_code == 409, answer.text
        assert "prime_list" in answer.json()["detail"]
    for prefix in ("", "/api/v1"):
        message = seed_002_error(api.http.get(f"{prefix}/tasks/{total}"), 409, "CONFLICT")
        assert "sum_range" in message["message"]
    assert "sum_range" in seed_004_error(api.http.get(f"/result/{total}"), 409)
    # A demo job of the right kind reads on the seed's demo path; one of another kind is 409.
    assert api.http.get(f"/jobs/demo/{demo.json()['job_id']}").status_code == 200
    other = api.http.post("/api/demo/jobs", json={"kind": "prime_count", "params": {"n": 10**4}})
    assert api.http.get(f"/v1/jobs/demo/{other.json()['job_id']}").status_code == 409


def test_refusals_carry_retry_after_and_the_seeds_code(serve: ServeInProcess) -> None:
    with serve(max_active_jobs=1, admission_retry_after_s=9) as api:
        api.submitted(n=10)  # the one unfinished job allowed

        for path in ("/tasks", "/api/v1/tasks"):
            refused = api.http.post(path, json=PROJECTION)
            seed_002_error(refused, 429, "TOO_MANY_REQUESTS")
            assert refused.headers["retry-after"] == "9"
        task = {"task_type": "compute", "task_data": {"limit": 1000}}
        refused = api.http.post("/submit-task", json=task)
        assert "CHUNKWISE_MAX_ACTIVE_JOBS" in seed_003_error(refused, 429)
        assert refused.headers["retry-after"] == "9"
        refused = api.http.post("/primes", params={"start_num": 1, "end_num": 100})
        assert "CHUNKWISE_MAX_ACTIVE_JOBS" in seed_004_error(refused, 429)
        assert refused.headers["retry-after"] == "9"
        for path, body in (("/api/count-primes", {"n": 10**4}), ("/jobs", {"n": 5})):
            refused = api.http.post(path, json=body)
            assert refused.status_code == 429 and refused.headers["retry-after"] == "9"


def test_a_task_being_computed_is_in_progress_as_seed_003_spells_it(api: Api) -> None:
    created = api.http.post(
        "/submit-task", json={"task_type": "compute", "task_data": {"limit": 1000}}
    )
    task_id = created.json()["data"]["task_id"]
    first = take_published(api.broker)[0]
    ChunkRunner(api.store, api.settings.workload_limits()).run(
        job_id=first.job_id, index=first.index, worker="w"
    )
    data = api.http.get(f"/task/{task_id}").json()["data"]
    assert data["status"] == "in_progress"
    assert api.http.get("/stats").json()["data"]["in_progress_tasks"] == 1


def test_seed_002_validation_and_sign_in_errors_are_its_own(serve: ServeInProcess) -> None:
    with serve() as api:
        for prefix in ("", "/api/v1"):
            bad = api.http.post(f"{prefix}/tasks", json={"data": {"amount": -5, "rate": 0.05}})
            body = seed_002_error(bad, 400, "INVALID_TASK")
            assert body["message"].startswith("data.amount: ")
            assert body["details"] == {"field": "data.amount"}
            missing = seed_002_error(api.http.post(f"{prefix}/tasks", json={}), 400, "INVALID_TASK")
            assert missing["details"] == {"field": "data"}
            urgent = {**PROJECTION, "priority": "urgent"}
            wrong = seed_002_error(
                api.http.post(f"{prefix}/tasks", json=urgent), 400, "INVALID_TASK"
            )
            assert wrong["details"] == {"field": "priority"}
            absent = api.http.get(f"{prefix}/tasks/{uuid.uuid4()}")
            assert seed_002_error(absent, 404, "TASK_NOT_FOUND")["message"] == "Task not found"
    with serve(auth_enabled=True) as api:
        for answer in (
            api.http.post("/tasks", json=PROJECTION),
            api.http.get(f"/tasks/{uuid.uuid4()}"),
        ):
            seed_002_error(answer, 401, "UNAUTHORIZED")
            assert answer.headers["www-authenticate"] == "Bearer"


def test_seed_001_says_job_not_found_and_names_n(api: Api) -> None:
    for path in (f"/jobs/{uuid.uuid4()}", f"/v1/jobs/{uuid.uuid4()}", "/jobs/not-an-id"):
        answer = api.http.get(path)
        assert answer.status_code == 404 and answer.json()["detail"] == "Job not found"
    assert api.http.get(f"/v1/jobs/demo/{uuid.uuid4()}").json()["detail"] == "Job not found"
    too_big = api.http.post("/jobs/demo", json={"n": 20_000, "chunks": 2})
    assert too_big.status_code == 400
    assert too_big.json() == {"detail": "n: the demo allows at most 10,000", "field": "n"}


def test_field_names_are_the_ones_each_client_sent(serve: ServeInProcess) -> None:
    limits = {"prime_list_max_end": 10**6, "prime_count_max_n": 10**6}
    with serve(workload_limit_overrides=limits) as api:
        counted = api.http.post("/api/count-primes", json={"n": 2 * 10**6})  # seed 000
        assert counted.status_code == 400 and counted.json()["field"] == "n"
        assert counted.json()["detail"].startswith("n: ")

        task = {"task_type": "compute", "task_data": {"limit": 2 * 10**6}}  # seed 003
        message = seed_003_error(api.http.post("/submit-task", json=task), 400)
        assert message.startswith("task_data.limit: ")

        listed = api.http.post("/primes", params={"start_num": 0, "end_num": 2 * 10**6})
        assert seed_004_error(listed, 400).startswith("end_num: ")
        missing = api.http.post("/primes", params={"end_num": 10})
        assert seed_004_error(missing, 400).startswith("start_num: ")
        assert seed_003_error(api.http.get("/task/99999999999999999999999"), 404) == (
            "Task not found"
        )
    with serve(auth_enabled=True) as api:
        seed_003_error(api.http.post("/submit-task", json=task), 401)
        seed_004_error(api.http.post("/primes", params={"start_num": 0, "end_num": 10}), 401)


def test_a_result_over_the_cap_points_at_the_paged_result(serve: ServeInProcess) -> None:
    # 116 primes: under the cap at 8 bytes each, over it as text ("[1000003, ...]").
    with serve(compat_max_result_bytes=1024) as api:
        job_id = api.http.post("/primes", params={"start_num": 10**6, "end_num": 1_001_500}).json()
        api.compute_published()
        message = seed_004_error(api.http.get(f"/result/{job_id}"), 413)
        assert f"/api/jobs/{job_id}/result" in message
        assert api.http.get(f"/api/jobs/{job_id}/result").json()["total"] == 116
