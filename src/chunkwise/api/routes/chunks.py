"""A job's chunks, one by one: what the dashboard's chunk map draws."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import CallerDep
from chunkwise.api.deps import SettingsDep, StoreDep
from chunkwise.api.finished_jobs import FinishedBody
from chunkwise.api.routes.jobs import ERRORS, parse_job_id, read_job_body
from chunkwise.engine.celery_app import parse_chunk_task_id
from chunkwise.schemas import ChunkList, ChunkView
from chunkwise.store import Store
from chunkwise.store import workers as worker_rows
from chunkwise.store.inspection import ChunkRow, job_chunks

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}/chunks", responses={404: ERRORS[404], 503: ERRORS[503]})
async def chunks(
    job_id: str, store: StoreDep, settings: SettingsDep, caller: CallerDep
) -> ChunkList:
    """Each chunk's state, worker, timings and cache use, in index order."""
    job_uuid = parse_job_id(job_id)
    job = await run_in_threadpool(read_job_body, store, job_uuid, settings, 0.0, caller)
    ended = isinstance(job, FinishedBody)
    rows, holders = await run_in_threadpool(_read, store, job_uuid, settings.worker_ttl_s)
    items = [_view(row, holders.get(row.index), ended) for row in rows]
    return ChunkList(job_id=job_uuid, total=len(items), items=items)


def _read(store: Store, job_id: uuid.UUID, ttl_s: float) -> tuple[list[ChunkRow], dict[int, str]]:
    """The job's chunks, and which live worker holds each unrecorded one."""
    with store.reader() as session:
        rows = job_chunks(session, job_id=job_id)
        held = worker_rows.held_chunks(session, ttl_s=ttl_s)
    holders: dict[int, str] = {}
    for worker, task_ids in held.items():
        for task_id in task_ids:
            key = parse_chunk_task_id(task_id)
            if key is not None and key[0] == job_id:
                holders[key[1]] = worker
    return rows, holders


def _view(row: ChunkRow, holder: str | None, job_ended: bool) -> ChunkView:
    running = not row.recorded and not job_ended and (row.attempts > 0 or holder is not None)
    duration = (
        (row.finished_at - row.started_at).total_seconds()
        if row.recorded and row.started_at and row.finished_at
        else None
    )
    return ChunkView(
        index=row.index,
        state="done" if row.recorded else "running" if running else "pending",
        worker=row.worker if row.recorded else holder,
        attempts=row.attempts,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_sec=None if duration is None else round(max(duration, 0.0), 6),
        cache_hits=row.cache_hits,
        cached=row.cache_hits > 0,
    )
