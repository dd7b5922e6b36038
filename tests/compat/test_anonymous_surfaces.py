"""CHUNKWISE_COMPAT_ANONYMOUS: with accounts on, the seed surfaces it names serve clients
that cannot sign in; their jobs share one anonymous owner, under the per-IP job rate limit
and the same admission and quota as any job, and no one else's jobs are theirs to read."""

from __future__ import annotations

import uuid

from chunkwise.api.accounts.anonymous import ANONYMOUS_OWNER
from chunkwise.store import jobs
from tests.api.in_process import Api, ServeInProcess

PASSWORD = "a long passphrase"
PROJECTION = {"data": {"amount": 10_000, "rate": 0.05, "paths": 1000}}
TASK = {"task_type": "compute", "task_data": {"limit": 1000}}


def signed_in(api: Api, email: str) -> dict[str, str]:
    account = {"email": email, "password": PASSWORD}
    assert api.http.post("/api/auth/register", json=account).status_code == 201
    token = api.http.post("/api/auth/login", json=account).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def owner_of(api: Api, job_id: str) -> uuid.UUID | None:
    with api.store.reader() as session:
        job = jobs.get_job(session, job_id=uuid.UUID(job_id))
        assert job is not None
        return job.owner_id


def test_the_named_surfaces_answer_without_a_token(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, compat_anonymous=["000", "002", "003", "004"]) as api:
        counted = api.http.post("/api/count-primes", json={"n": 10**4, "chunks": 2})  # 000
        assert counted.status_code == 202, counted.text
        counted_id = counted.json()["job_id"]
        assert api.http.get(f"/api/jobs/{counted_id}").json()["state"] == "PENDING"
        task = api.http.post("/tasks", json=PROJECTION)  # 002
        assert task.status_code == 201, task.text
        assert api.http.get(f"/api/v1/tasks/{task.json()['task_id']}").status_code == 200
        queued = api.http.post("/submit-task", json=TASK)  # 003
        assert queued.status_code == 201, queued.text
        assert api.http.get(f"/task/{queued.json()['data']['task_id']}").status_code == 200
        assert api.http.get("/stats").status_code == 200
        primes = api.http.post("/primes", params={"start_num": 1, "end_num": 100})  # 004
        assert primes.status_code == 200, primes.text
        assert api.http.get(f"/result/{primes.json()}").status_code == 204

        made = [counted_id, task.json()["task_id"], queued.json()["data"]["job_id"]]
        assert {owner_of(api, job_id) for job_id in [*made, primes.json()]} == {ANONYMOUS_OWNER}
        # Seed 001 is not named: it keeps its sign-in; nor is the rest of chunkwise's API.
        assert api.http.post("/jobs", json={"n": 10}).status_code == 401
        assert api.http.get("/api/jobs").status_code == 401


def test_anonymous_jobs_and_accounts_jobs_stay_apart(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, compat_anonymous=["000", "002"]) as api:
        anonymous = api.http.post("/api/count-primes", json={"n": 10**4}).json()["job_id"]
        signed_in(api, "admin@example.com")  # the first account is an admin: it sees all
        ada = signed_in(api, "ada@example.com")
        body = {"kind": "sum_range", "params": {"n": 10}}
        hers = api.http.post("/api/jobs", json=body, headers=ada).json()["job_id"]

        assert api.http.get(f"/api/jobs/{anonymous}", headers=ada).status_code == 404
        assert api.http.get(f"/api/jobs/{hers}").status_code == 404
        assert api.http.get(f"/tasks/{hers}").status_code == 404
        assert api.http.get(f"/api/jobs/{hers}", headers=ada).status_code == 200
        # A token is honoured on an anonymous surface: the job is the account's.
        own = api.http.post("/api/count-primes", json={"n": 10**4}, headers=ada).json()
        assert owner_of(api, own["job_id"]) not in (None, ANONYMOUS_OWNER)
        bad = api.http.post("/tasks", json=PROJECTION, headers={"Authorization": "Bearer x"})
        assert bad.status_code == 401


def test_the_job_rate_limit_counts_per_client_ip(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, compat_anonymous=["003"], job_rate_limit="2/minute") as api:
        assert [api.http.post("/submit-task", json=TASK).status_code for _ in range(2)] == [
            201,
            201,
        ]
        refused = api.http.post("/submit-task", json=TASK)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "rate limit" in refused.json()["message"]


def test_the_anonymous_owner_has_the_quota_of_a_user(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, compat_anonymous=["004"], max_active_jobs_per_user=1) as api:
        assert api.http.post("/primes", params={"start_num": 1, "end_num": 50}).status_code == 200
        refused = api.http.post("/primes", params={"start_num": 1, "end_num": 60})
        assert refused.status_code == 429 and "retry-after" in refused.headers


def test_without_the_setting_every_surface_but_the_demo_asks_for_a_token(
    serve: ServeInProcess,
) -> None:
    with serve(auth_enabled=True) as api:
        assert api.http.post("/api/count-primes", json={"n": 10**4}).status_code == 401
        assert api.http.post("/tasks", json=PROJECTION).status_code == 401
        assert api.http.post("/submit-task", json=TASK).status_code == 401
        assert api.http.post("/primes", params={"start_num": 1, "end_num": 9}).status_code == 401
        assert api.http.post("/jobs/demo", json={"n": 10}).status_code == 202
