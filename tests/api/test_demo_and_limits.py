"""Demo endpoints, rate limits, the per-user quota and Idempotency-Key (in-process API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from chunkwise.store import jobs
from chunkwise.store.models import IdempotencyRecord
from tests.api.in_process import Api, ServeInProcess

PASSWORD = "correct horse battery staple"
SMALL = {"kind": "sum_range", "params": {"n": 1000}, "chunks": 4}


def signed_in(api: Api, email: str = "ada@example.com") -> dict[str, str]:
    api.http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    token = api.http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_the_sixth_demo_request_in_a_minute_gets_429_with_retry_after(api: Api) -> None:
    answers = [api.http.post("/api/demo/jobs", json=SMALL) for _ in range(6)]
    assert [a.status_code for a in answers] == [202] * 5 + [429]
    retry_after = answers[-1].headers["retry-after"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    assert "rate limit" in answers[-1].json()["detail"]


def test_a_demo_job_runs_and_is_shown_only_by_the_demo_routes(api: Api) -> None:
    job_id = api.http.post("/api/demo/jobs", json=SMALL).json()["job_id"]
    api.compute_published()
    shown = api.http.get(f"/api/demo/jobs/{job_id}").json()
    assert shown["state"] == "SUCCESS" and shown["result"]["sum"] == 500_500
    assert api.http.get(f"/api/jobs/{job_id}").status_code == 404
    assert api.http.get("/api/jobs").json()["total"] == 0
    ordinary = api.http.post("/api/jobs", json=SMALL).json()["job_id"]
    assert api.http.get(f"/api/demo/jobs/{ordinary}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "sum_range", "params": {"n": 10_001}, "chunks": 4}, "params.n"),
        ({"kind": "prime_count", "params": {"n": 10**7 + 1}, "chunks": 4}, "params.n"),
        ({"kind": "sum_range", "params": {"n": 100}, "chunks": 9}, "chunks"),
        ({"kind": "prime_list", "params": {"end": 100}, "chunks": 1}, "kind"),
        ({**SMALL, "callback_url": "https://example.com/hook"}, "callback_url"),
    ],
)
def test_a_demo_job_over_its_limits_gets_400_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = api.http.post("/api/demo/jobs", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_job_creation_is_rate_limited_per_user(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, job_rate_limit="3/minute") as api:
        ada, bob = signed_in(api), signed_in(api, "bob@example.com")
        answers = [api.http.post("/api/jobs", json=SMALL, headers=ada) for _ in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert api.http.post("/api/jobs", json=SMALL, headers=bob).status_code == 202


def test_past_the_per_user_quota_a_job_gets_429(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True, max_active_jobs_per_user=2) as api:
        ada, bob = signed_in(api), signed_in(api, "bob@example.com")
        codes = [api.http.post("/api/jobs", json=SMALL, headers=ada).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        assert api.http.post("/api/jobs", json=SMALL, headers=bob).status_code == 202
        api.compute_published()
        assert api.http.post("/api/jobs", json=SMALL, headers=ada).status_code == 202


def test_an_idempotent_replay_gives_the_same_answer_and_one_job(api: Api) -> None:
    key = {"Idempotency-Key": "order-42"}
    first = api.http.post("/api/jobs", json=SMALL, headers=key)
    again = api.http.post("/api/jobs", json=SMALL, headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    with api.store.reader() as session:
        assert jobs.count_jobs(session) == 1


def test_the_same_key_with_another_body_gets_422(api: Api) -> None:
    key = {"Idempotency-Key": "order-43"}
    assert api.http.post("/api/jobs", json=SMALL, headers=key).status_code == 202
    other = {**SMALL, "chunks": 2}
    response = api.http.post("/api/jobs", json=other, headers=key)
    assert response.status_code == 422
    assert "another request body" in response.json()["detail"]


def test_keys_are_scoped_per_user(serve: ServeInProcess) -> None:
    with serve(auth_enabled=True) as api:
        ada, bob = signed_in(api), signed_in(api, "bob@example.com")
        key = {"Idempotency-Key": "same"}
        first = api.http.post("/api/jobs", json=SMALL, headers={**ada, **key}).json()
        second = api.http.post("/api/jobs", json=SMALL, headers={**bob, **key}).json()
        assert first["job_id"] != second["job_id"]


def leave_unanswered(api: Api, *, key: str, age_s: float) -> None:
    """Make the key's record look like a claim whose API process died handling it."""
    with api.store.writer() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)
            .values(
                status_code=None, body=None, created_at=datetime.now(UTC) - timedelta(seconds=age_s)
            )
        )


def test_a_claim_left_unanswered_is_a_409_with_retry_after_then_taken_over(
    serve: ServeInProcess,
) -> None:
    with serve(idempotency_claim_timeout_s=30) as api:
        key = {"Idempotency-Key": "order-44"}
        assert api.http.post("/api/jobs", json=SMALL, headers=key).status_code == 202
        leave_unanswered(api, key="order-44", age_s=1)
        busy = api.http.post("/api/jobs", json=SMALL, headers=key)
        assert busy.status_code == 409 and int(busy.headers["retry-after"]) > 0
        leave_unanswered(api, key="order-44", age_s=31)
        taken_over = api.http.post("/api/jobs", json=SMALL, headers=key)
        assert taken_over.status_code == 202
        replay = api.http.post("/api/jobs", json=SMALL, headers=key)
        assert replay.json() == taken_over.json()
        assert replay.headers["idempotent-replayed"] == "true"
