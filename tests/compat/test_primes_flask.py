"""Seed 004's README examples against a live chunkwise: the id as a JSON string, the same
id for the same range, 204 while processing, then "[5, 7, 11]"."""

from __future__ import annotations

import httpx
import pytest

from tests.compat.conftest import curl_examples
from tests.live import LiveSystem
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECTION = "Seed 004: Primes"


def finished(base: str, job_id: str) -> httpx.Response:
    def done() -> httpx.Response | None:
        response = httpx.get(f"{base}/result/{job_id}")
        return None if response.status_code == 204 else response

    return wait_for(done, timeout_s=60, interval_s=0.02, what="the result")


def test_the_readme_examples_give_5_7_11_and_the_same_id_again(compat_live: LiveSystem) -> None:
    submit, result, _, _ = curl_examples(SECTION)
    first = submit.send(compat_live.api_url)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    job_id = first.json()
    assert isinstance(job_id, str) and len(job_id) == 36
    finished(compat_live.api_url, job_id)
    answer = result.send(compat_live.api_url, job_id)
    assert answer.status_code == 200 and answer.json() == "[5, 7, 11]"
    again = submit.send(compat_live.api_url)
    assert again.status_code == 200 and again.json() == job_id


def test_204_while_processing_then_200(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    _, _, submit, result = curl_examples(SECTION)
    # Both workers busy for a second first, so the range surely waits in the queue.
    blocker = {"kind": "prime_count", "params": {"n": 10**10, "method": "sieve"}, "chunks": 2}
    httpx.post(f"{base}/api/jobs", json=blocker, params={"cache": "false"}).raise_for_status()
    job_id = submit.send(base).json()
    assert result.send(base, job_id).status_code == 204
    answer = finished(base, job_id)
    assert answer.status_code == 200
    primes = answer.json()
    assert primes.startswith("[2, 3, 5, 7") and primes.endswith("999983]")
    assert primes.count(",") + 1 == 78_498


def test_too_large_a_result_is_413_pointing_at_the_paged_result(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    job_id = httpx.post(f"{base}/primes?start_num=1&end_num=5000000").json()
    answer = finished(base, job_id)
    assert answer.status_code == 413
    assert f"/api/jobs/{job_id}/result" in answer.json()["message"]


def test_bad_requests_answer_with_a_message(compat_live: LiveSystem) -> None:
    base = compat_live.api_url
    backwards = httpx.post(f"{base}/primes?start_num=11&end_num=4")
    assert backwards.status_code == 400 and "message" in backwards.json()
    assert httpx.get(f"{base}/result/not-an-id").status_code == 404
