"""Ended jobs never change: GET /api/jobs/{id} answers them from memory with an ETag and a
Cache-Control that lets clients keep them, never past the job's expiry; running jobs are
read from the store every time and never kept."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from chunkwise.api import create_app
from chunkwise.api.conditional import etag_matches, etag_of
from chunkwise.api.finished_jobs import MAX_FRESH_S, FinishedJobCache, finished_body
from chunkwise.config import Settings
from chunkwise.store import Job, Store, jobs
from chunkwise.store.models import utcnow
from chunkwise.worker.housekeeping import Retention

DAY_S = 86400.0


@contextmanager
def serving(tmp_path: Path, **overrides: Any) -> Iterator[tuple[TestClient, Store]]:
    """The API over a fresh store, and that store; jobs are written to the store directly."""
    fields: dict[str, Any] = {
        "broker_url": "memory://",
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'api.db'}",
    }
    app = create_app(Settings(**(fields | overrides)))
    with TestClient(app, base_url="http://localhost") as http:
        yield http, app.state.store


def add_job(store: Store, *, finished: bool) -> uuid.UUID:
    with store.writer() as session:
        job_id = jobs.create_job(session, kind="sum_range", params={"n": 10}, specs=[{}]).id
    if finished:
        finish(store, job_id, result={"sum": 55})
    return job_id


def finish(store: Store, job_id: uuid.UUID, *, result: dict[str, Any]) -> None:
    with store.writer() as session:
        assert jobs.finish_job(session, job_id=job_id, result=result)


def set_job(store: Store, job_id: uuid.UUID, **values: Any) -> None:
    """Change a job's row behind the API's back."""
    with store.writer() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def max_age(cache_control: str) -> int:
    match = re.fullmatch(r"private, max-age=(\d+), immutable", cache_control)
    assert match is not None, cache_control
    return int(match.group(1))


def test_a_finished_job_carries_its_etag_and_may_be_kept_for_an_hour(tmp_path: Path) -> None:
    with serving(tmp_path) as (http, store):
        job_id = add_job(store, finished=True)
        first, again = http.get(f"/api/jobs/{job_id}"), http.get(f"/api/jobs/{job_id}")

    assert first.status_code == 200 and first.json()["result"] == {"sum": 55}
    assert first.headers["etag"] == etag_of(first.content)
    assert re.fullmatch(r'"[0-9a-f]{32}"', first.headers["etag"])
    assert MAX_FRESH_S - 5 <= max_age(first.headers["cache-control"]) <= MAX_FRESH_S
    assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])


@pytest.mark.parametrize("form", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_if_none_match_naming_the_etag_answers_304_without_a_body(
    tmp_path: Path, form: str
) -> None:
    with serving(tmp_path) as (http, store):
        job_id = add_job(store, finished=True)
        etag = http.get(f"/api/jobs/{job_id}").headers["etag"]
        response = http.get(
            f"/api/jobs/{job_id}", headers={"If-None-Match": form.format(etag=etag)}
        )

    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == etag
    assert max_age(response.headers["cache-control"]) > 0


def test_if_none_match_naming_another_etag_answers_the_job(tmp_path: Path) -> None:
    with serving(tmp_path) as (http, store):
        job_id = add_job(store, finished=True)
        response = http.get(f"/api/jobs/{job_id}", headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200 and response.json()["state"] == "SUCCESS"


def test_a_running_job_is_never_kept_and_read_afresh_until_it_ends(tmp_path: Path) -> None:
    with serving(tmp_path) as (http, store):
        job_id = add_job(store, finished=False)
        running = http.get(f"/api/jobs/{job_id}", headers={"If-None-Match": "*"})
        finish(store, job_id, result={"sum": 55})
        ended = http.get(f"/api/jobs/{job_id}")

    assert running.status_code == 200 and running.json()["state"] == "PENDING"
    assert running.headers["cache-control"] == "no-store"
    assert "etag" not in running.headers
    assert ended.json()["state"] == "SUCCESS" and "etag" in ended.headers


def test_a_finished_job_is_read_from_the_store_once(tmp_path: Path) -> None:
    with serving(tmp_path) as (http, store):
        job_id = add_job(store, finished=True)
        first = http.get(f"/api/jobs/{job_id}").json()
        set_job(store, job_id, result={"sum": -1})
        second = http.get(f"/api/jobs/{job_id}").json()

    assert first["result"] == second["result"] == {"sum": 55}


def test_with_no_entries_every_read_goes_to_the_store(tmp_path: Path) -> None:
    with serving(tmp_path, finished_cache_entries=0) as (http, store):
        job_id = add_job(store, finished=True)
        http.get(f"/api/jobs/{job_id}")
        set_job(store, job_id, result={"sum": -1})
        second = http.get(f"/api/jobs/{job_id}")

    assert second.json()["result"] == {"sum": -1}
    assert "etag" in second.headers


def test_a_job_past_its_expiry_is_not_kept_and_is_gone_once_removed(tmp_path: Path) -> None:
    with serving(tmp_path, result_ttl_s=DAY_S) as (http, store):
        job_id = add_job(store, finished=True)
        set_job(store, job_id, finished_at=utcnow() - timedelta(days=2))
        due = http.get(f"/api/jobs/{job_id}")
        assert Retention(store, result_ttl_s=DAY_S).sweep() == 1
        gone = http.get(f"/api/jobs/{job_id}")

    assert due.status_code == 200 and max_age(due.headers["cache-control"]) == 0
    assert gone.status_code == 404 and "expired on" in gone.json()["detail"]


def test_a_body_is_fresh_until_the_job_expires_or_for_an_hour_at_most() -> None:
    assert finished_body(b"{}", expires_at=1000.0, now=900.0).fresh_until == 1000.0
    assert finished_body(b"{}", expires_at=1e9, now=900.0).fresh_until == 900.0 + MAX_FRESH_S
    assert finished_body(b"{}", expires_at=1e9, now=0.0).cache_control(now=100.5) == (
        f"private, max-age={int(MAX_FRESH_S) - 101}, immutable"
    )
    assert finished_body(b"{}", expires_at=50.0, now=100.0).cache_control(now=100.0) == (
        "private, max-age=0, immutable"
    )


def test_the_cache_keeps_the_most_recently_read_entries() -> None:
    cache = FinishedJobCache(max_entries=2)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    body = finished_body(b"{}", expires_at=1e9, now=0.0)
    cache.put(first, body)
    cache.put(second, body)
    assert cache.get(first, now=1.0) is body  # first is now the most recently read
    cache.put(third, body)

    assert len(cache) == 2
    assert cache.get(second, now=1.0) is None
    assert cache.get(first, now=1.0) is body and cache.get(third, now=1.0) is body


def test_a_stale_entry_is_dropped_and_no_entries_keeps_nothing() -> None:
    cache, job_id = FinishedJobCache(max_entries=10), uuid.uuid4()
    cache.put(job_id, finished_body(b"{}", expires_at=100.0, now=0.0))
    assert cache.get(job_id, now=99.0) is not None
    assert cache.get(job_id, now=100.0) is None and len(cache) == 0

    nothing = FinishedJobCache(max_entries=0)
    nothing.put(job_id, finished_body(b"{}", expires_at=100.0, now=0.0))
    assert len(nothing) == 0


def test_etags_compare_weakly_and_name_one_body() -> None:
    etag = etag_of(b'{"a":1}')
    assert etag != etag_of(b'{"a":2}') and etag == etag_of(b'{"a":1}')
    assert etag_matches(etag, etag) and etag_matches(f" W/{etag} ", etag)
    assert etag_matches(f'"x", {etag}', etag) and etag_matches("*", etag)
    assert not etag_matches(None, etag) and not etag_matches('"x"', etag)
    assert not etag_matches(etag.strip('"'), etag)
