"""Retention's contract: finished jobs expire into tombstones, running ones never do."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select, update

from chunkwise.api.expiry import describe_duration, describe_expiry
from chunkwise.store import Chunk, Job, JobState, Store, jobs, recording, retention
from chunkwise.store.models import ExpiredJob, utcnow
from chunkwise.worker.housekeeping import Retention


def make_job(store: Store, *, state: JobState | None = None, age_s: float = 0.0) -> uuid.UUID:
    """A two-chunk job, ended in `state` (if given) `age_s` seconds ago."""
    with store.writer() as session:
        job = jobs.create_job(
            session, kind="sum_range", params={"n": 10}, specs=[{"lo": 1}, {"lo": 2}]
        )
        job_id = job.id
    if state is not None:
        with store.writer() as session:
            if state is JobState.SUCCESS:
                jobs.finish_job(session, job_id=job_id, result={"sum": 3})
            elif state is JobState.FAILURE:
                jobs.fail_job(session, job_id=job_id, error="boom")
            else:
                jobs.cancel_job(session, job_id=job_id)
            finished = utcnow() - timedelta(seconds=age_s)
            session.execute(update(Job).where(Job.id == job_id).values(finished_at=finished))
    return job_id


def expire(store: Store, *, ttl_s: float = 60.0, limit: int = 100) -> int:
    with store.writer() as session:
        older_than = utcnow() - timedelta(seconds=ttl_s)
        return retention.expire_finished_jobs(session, older_than=older_than, limit=limit)


def count(store: Store, model: type[Job] | type[Chunk] | type[ExpiredJob]) -> int:
    with store.reader() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_finished_jobs_past_their_ttl_become_tombstones(store: Store) -> None:
    old = {
        state: make_job(store, state=state, age_s=120) for state in JobState if state.is_terminal
    }
    recent = make_job(store, state=JobState.SUCCESS, age_s=10)

    assert expire(store, ttl_s=60) == 3

    with store.reader() as session:
        for state, job_id in old.items():
            assert jobs.get_job(session, job_id=job_id) is None, state
            assert jobs.list_chunks(session, job_id=job_id) == []
            tombstone = retention.expired_job(session, job_id=job_id)
            assert tombstone is not None and tombstone.kind == "sum_range"
            assert (
                tombstone.finished_at is not None and tombstone.expired_at > tombstone.finished_at
            )
        assert jobs.get_job(session, job_id=recent) is not None
        assert retention.expired_job(session, job_id=recent) is None
    assert count(store, Chunk) == 2


def test_running_jobs_never_expire_however_old(store: Store) -> None:
    make_job(store)  # still PENDING
    progressing = make_job(store)
    with store.writer() as session:
        recording.record_chunk(session, job_id=progressing, index=0, partial=1, worker="w")
        session.execute(update(Job).values(created_at=utcnow() - timedelta(days=365)))

    assert expire(store, ttl_s=0) == 0
    assert count(store, Job) == 2 and count(store, ExpiredJob) == 0


def test_expiry_goes_in_batches_and_repeating_it_changes_nothing(store: Store) -> None:
    for _ in range(5):
        make_job(store, state=JobState.SUCCESS, age_s=120)

    assert [expire(store, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert (count(store, Job), count(store, Chunk), count(store, ExpiredJob)) == (0, 0, 5)


def test_concurrent_sweeps_expire_each_job_once(store: Store) -> None:
    for _ in range(40):
        make_job(store, state=JobState.FAILURE, age_s=120)
    sweeper = Retention(store, result_ttl_s=60)

    with ThreadPoolExecutor(max_workers=4) as pool:
        removed = list(pool.map(lambda _: sweeper.sweep(), range(4)))

    assert sum(removed) == 40
    assert (count(store, Job), count(store, Chunk), count(store, ExpiredJob)) == (0, 0, 40)


def test_tombstones_are_purged_after_thirty_ttls(store: Store) -> None:
    make_job(store, state=JobState.SUCCESS, age_s=120)
    fresh = make_job(store, state=JobState.SUCCESS, age_s=120)
    assert expire(store, ttl_s=60) == 2
    with store.writer() as session:
        stale = utcnow() - timedelta(seconds=60 * 31)
        session.execute(update(ExpiredJob).where(ExpiredJob.id != fresh).values(expired_at=stale))

    Retention(store, result_ttl_s=60).sweep()

    with store.reader() as session:
        assert [t.id for t in session.scalars(select(ExpiredJob))] == [fresh]


def test_the_expiry_message_names_the_date_and_the_setting(store: Store) -> None:
    job_id = make_job(store, state=JobState.SUCCESS, age_s=120)
    expire(store, ttl_s=60)
    with store.reader() as session:
        tombstone = retention.expired_job(session, job_id=job_id)
    assert tombstone is not None

    message = describe_expiry(tombstone, result_ttl_s=7 * 86400)

    when = tombstone.expired_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert message == (
        f"job {job_id} expired on {when}: finished jobs are kept for 7 days"
        " (CHUNKWISE_RESULT_TTL_S)"
    )
    assert [describe_duration(s) for s in (1, 1.5, 60, 5400, 3600, 86400)] == [
        "1 second",
        "1.5 seconds",
        "1 minute",
        "90 minutes",
        "1 hour",
        "1 day",
    ]
