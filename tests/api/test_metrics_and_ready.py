"""`/metrics` counts what was run, from the store and this process; `/ready` names what is
missing (in-process API, no workers)."""

from __future__ import annotations

import re

from chunkwise.store import workers as worker_rows
from tests.api.in_process import Api, ServeInProcess
from tests.waiting import wait_for


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = (
        rf"^{re.escape(name)}(\{{{re.escape(wanted)}\}})? (\S+)$" if wanted else rf"^{name} (\S+)$"
    )
    for line in text.splitlines():
        found = re.match(pattern, line)
        if found:
            return float(found.groups()[-1])
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


def test_metrics_match_the_jobs_run(api: Api) -> None:
    for n in (100, 200):
        api.submitted("sum_range", chunks=4, n=n)
    api.submitted("prime_count", chunks=2, n=100_000)
    api.compute_published()
    cancelled = api.submitted("sum_range", chunks=2, n=5)
    api.http.post(f"/api/jobs/{cancelled}/cancel")
    api.http.get(f"/api/jobs/{cancelled}")

    response = api.http.get("/metrics")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "chunkwise_jobs_submitted_total", kind="sum_range") == 3
    assert sample(text, "chunkwise_jobs_submitted_total", kind="prime_count") == 1
    assert sample(text, "chunkwise_jobs", kind="sum_range", state="SUCCESS") == 2
    assert sample(text, "chunkwise_jobs", kind="sum_range", state="CANCELLED") == 1
    assert sample(text, "chunkwise_jobs", kind="prime_count", state="SUCCESS") == 1
    assert sample(text, "chunkwise_chunks_recorded", kind="sum_range") == 8
    assert sample(text, "chunkwise_chunks_recorded", kind="prime_count") == 2
    assert sample(text, "chunkwise_chunk_seconds_count", kind="sum_range") == 8
    assert sample(text, "chunkwise_chunk_seconds_count", kind="prime_count") == 2
    buckets = [
        sample(text, "chunkwise_chunk_seconds_bucket", kind="sum_range", le=bound)
        for bound in ("0.001", "1.0", "+Inf")
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 8
    assert sample(text, "chunkwise_chunk_seconds_sum", kind="sum_range") >= 0
    assert sample(text, "chunkwise_workers") == 0
    assert sample(text, "chunkwise_queued_chunks") >= 0
    latency = (
        r'chunkwise_api_request_seconds_count\{method="GET",route="/api/jobs/\{job_id\}"\} 1.0'
    )
    assert re.search(latency, text), text


def test_ready_needs_the_store_and_broker_but_no_worker(api: Api) -> None:
    # No worker yet: ready all the same, since jobs queue and reads work.
    response = api.http.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "missing": [], "workers": 0}
    with api.store.writer() as session:
        worker_rows.heartbeat(session, name="w@host", processes=1)
    ready = wait_for(
        lambda: (answer := api.http.get("/ready")).json()["workers"] == 1 and answer,
        timeout_s=10,
        what="the next health probe to see the worker",
    )
    assert ready.json() == {"ready": True, "missing": [], "workers": 1}


def test_the_probe_paths_answer_any_host_and_the_rest_do_not(serve: ServeInProcess) -> None:
    with serve(allowed_hosts=["chunkwise.example.com"]) as api:
        for path in ("/live", "/ready", "/health"):
            assert api.http.get(path, headers={"Host": "127.0.0.1:8000"}).status_code == 200
        assert api.http.get("/api/kinds", headers={"Host": "127.0.0.1:8000"}).status_code == 400
        named = {"Host": "chunkwise.example.com"}
        assert api.http.get("/api/kinds", headers=named).status_code == 200


def test_metrics_need_the_token_when_one_is_set(serve: ServeInProcess) -> None:
    # Prometheus scrapes a replica by its address: with a token, any Host will do.
    with serve(metrics_token="scrape-me", allowed_hosts=["chunkwise.example.com"]) as api:
        assert api.http.get("/metrics").status_code == 401
        wrong = api.http.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        bearer = {"Authorization": "Bearer scrape-me", "Host": "10.1.2.3:8000"}
        right = api.http.get("/metrics", headers=bearer)
        assert right.status_code == 200 and "chunkwise_" in right.text


def test_every_answer_carries_a_request_id(api: Api) -> None:
    given = api.http.get("/health", headers={"X-Request-ID": "client-42"})
    assert given.headers["x-request-id"] == "client-42"
    made = api.http.get("/health", headers={"X-Request-ID": "not sane!"}).headers["x-request-id"]
    assert made != "not sane!" and len(made) == 32
