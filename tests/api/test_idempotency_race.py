"""Concurrent requests with one Idempotency-Key, over real HTTP: one job, and a 409 for
the request that came while the first was still being handled."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from chunkwise.api.routes import jobs as job_routes
from chunkwise.store import jobs
from tests.api.conftest import ServeApi

pytestmark = pytest.mark.integration

SMALL = {"kind": "sum_range", "params": {"n": 1000}, "chunks": 4}
HANDLING_S = 0.5
"""How long the first request takes here: the others arrive while it is handled."""


def test_concurrent_duplicates_give_one_job_and_a_409(
    serve_api: ServeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit = getattr(job_routes, "submit_job")  # noqa: B009 (patched below)
    first_started = threading.Event()

    def slow_submit(*args: Any, **kwargs: Any) -> Any:
        first_started.set()
        time.sleep(HANDLING_S)
        return submit(*args, **kwargs)

    monkeypatch.setattr(job_routes, "submit_job", slow_submit)
    with serve_api() as api:
        url = f"http://127.0.0.1:{api.settings.api_port}/api/jobs"
        answers: list[httpx.Response] = []

        def post() -> None:
            answers.append(httpx.post(url, json=SMALL, headers={"Idempotency-Key": "k1"}))

        first = threading.Thread(target=post)
        first.start()
        assert first_started.wait(timeout=30)
        second = threading.Thread(target=post)
        second.start()
        first.join(timeout=30)
        second.join(timeout=30)
        replay = httpx.post(url, json=SMALL, headers={"Idempotency-Key": "k1"})
        with api.store.reader() as session:
            created = jobs.count_jobs(session)

    assert sorted(a.status_code for a in answers) == [202, 409]
    conflict = next(a for a in answers if a.status_code == 409)
    assert "still being handled" in conflict.json()["detail"]
    accepted = next(a for a in answers if a.status_code == 202)
    assert replay.status_code == 202 and replay.json() == accepted.json()
    assert created == 1
