"""Totals over the jobs the store keeps: the dashboard's stats cards."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import CallerDep
from chunkwise.api.deps import StoreDep
from chunkwise.api.routes.jobs import ERRORS
from chunkwise.schemas import JobCounts, Stats
from chunkwise.store import JobState, Store
from chunkwise.store.inspection import RATE_WINDOW_S, JobStats, job_stats

router = APIRouter(prefix="/api/stats", tags=["stats"])


@router.get("", responses={k: ERRORS[k] for k in (401, 503)})
async def stats(store: StoreDep, _: CallerDep) -> Stats:
    """Jobs by state, the average duration of succeeded jobs, chunks/s over the last minute
    (signed-in callers only, where accounts are on)."""
    read = await run_in_threadpool(_read, store)
    by_state = {state.value: read.by_state.get(state.value, 0) for state in JobState}
    return Stats(
        jobs=JobCounts(total=sum(by_state.values()), by_state=by_state),
        succeeded=by_state[JobState.SUCCESS.value],
        failed=by_state[JobState.FAILURE.value],
        average_duration_sec=(
            None if read.average_duration_s is None else round(read.average_duration_s, 3)
        ),
        chunks_per_sec_last_minute=round(read.chunks_last_window / RATE_WINDOW_S, 3),
    )


def _read(store: Store) -> JobStats:
    with store.reader() as session:
        return job_stats(session)
