"""Admission: past the bounds on unfinished work a new job gets 429 with Retry-After and
nothing is kept; CHUNKWISE_MAX_CHUNKS is the chunk cap; a full broker gets 503."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import redis

from chunkwise.embedded_broker import EmbeddedBroker
from chunkwise.store import jobs
from tests.api.conftest import ServeApi, ServedApi

pytestmark = pytest.mark.integration


def submit(api: ServedApi, chunks: int) -> httpx.Response:
    body = {"kind": "sum_range", "params": {"n": 1000}, "chunks": chunks}
    return api.http.post("/api/jobs", json=body)


def job_count(api: ServedApi) -> int:
    with api.store.reader() as session:
        return jobs.count_jobs(session)


def test_past_max_active_jobs_a_job_gets_429_with_retry_after(serve_api: ServeApi) -> None:
    with serve_api(max_active_jobs=2, admission_retry_after_s=7) as api:
        assert [submit(api, 1).status_code for _ in range(2)] == [202, 202]

        refused = submit(api, 1)

        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "7"
        assert "CHUNKWISE_MAX_ACTIVE_JOBS" in refused.json()["detail"]
        assert job_count(api) == 2


def test_a_job_that_would_pass_max_queued_chunks_gets_429(serve_api: ServeApi) -> None:
    with serve_api(max_queued_chunks=10, max_chunks=10) as api:
        assert submit(api, 6).status_code == 202
        refused = submit(api, 5)  # 6 + 5 > 10
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "5"
        assert "CHUNKWISE_MAX_QUEUED_CHUNKS" in refused.json()["detail"]
        assert submit(api, 4).status_code == 202  # 6 + 4 fits exactly
        assert job_count(api) == 2


def test_finished_jobs_and_recorded_chunks_free_their_room(serve_api: ServeApi) -> None:
    with serve_api(max_active_jobs=1, max_queued_chunks=4, max_chunks=4) as api:
        first = submit(api, 4).json()["job_id"]
        assert submit(api, 1).status_code == 429
        with api.store.writer() as session:
            jobs.cancel_job(session, job_id=uuid.UUID(first))
        assert submit(api, 4).status_code == 202


def test_max_chunks_is_the_setting(serve_api: ServeApi) -> None:
    with serve_api(max_chunks=4) as api:
        assert submit(api, 4).status_code == 202
        response = submit(api, 5)
        assert response.status_code == 400
        assert response.json()["field"] == "chunks"
        assert "less than or equal to 4" in response.json()["detail"]
    with serve_api(max_chunks=200) as api:
        assert submit(api, 200).status_code == 202


def test_the_openapi_document_promises_429_with_retry_after(serve_api: ServeApi) -> None:
    with serve_api() as api:
        spec = api.http.get("/openapi.json").json()
    responses = spec["paths"]["/api/jobs"]["post"]["responses"]
    assert "Retry-After" in responses["429"]["headers"]
    assert "maximum" not in str(spec["components"]["schemas"]["JobCreate"]["properties"]["chunks"])


def test_a_full_broker_fails_the_submit_with_503_and_keeps_no_job(
    serve_api: ServeApi, broker: EmbeddedBroker
) -> None:
    with serve_api() as api, redis.Redis.from_url(broker.url) as client:
        client.config_set("maxmemory", "1")  # already past: every write is refused
        try:
            response = submit(api, 2)
        finally:
            client.config_set("maxmemory", broker.maxmemory)
        assert response.status_code == 503
        assert job_count(api) == 0


def test_the_embedded_broker_caps_its_memory_and_never_evicts(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    with redis.Redis.from_url(broker.url) as client:
        assert client.config_get("maxmemory") == {"maxmemory": str(256 * 2**20)}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    with (
        EmbeddedBroker(tmp_path / "small", appendonly=False, maxmemory="3mb") as small,
        redis.Redis.from_url(small.url) as client,
    ):
        assert client.config_get("maxmemory") == {"maxmemory": str(3 * 2**20)}
