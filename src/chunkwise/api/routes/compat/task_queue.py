"""Seed 003, the Distributed Task Queue: `POST /submit-task`, `GET /task/{id}`, `GET /stats`.

A task finds the primes up to `task_data.limit` by `method` ("sieve" or
"trial_division"): a `prime_list` job underneath, named by a small integer id as the
seed's were. Answers keep the seed's envelope, `{"status": "success", "data": …}`, and its
errors, `{"status": "error", "message"}`. Its worker-pull endpoints (`/get-task`,
`/submit-result`, `/heartbeat`) have no counterpart: chunkwise pushes chunks to workers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import Caller, CallerDep
from chunkwise.api.error_status import http_status
from chunkwise.api.item_pages import item_page
from chunkwise.api.routes.jobs import job_answer, submit_for
from chunkwise.errors import ChunkwiseError, JobNotFoundError
from chunkwise.store import JobState, Store
from chunkwise.store import compat as compat_rows
from chunkwise.store.inspection import job_chunks, job_stats, live_worker_rows

router = APIRouter(tags=["compat: task queue (seed 003)"])

TASK_TYPES = ("compute", "prime")
"""The task types its code runs; both find primes."""
METHODS = ("sieve", "trial_division")
DEFAULT_LIMIT = 100_000
DEFAULT_METHOD = "trial_division"
"""Its dispatcher's default (PRIMES_DEFAULT_METHOD)."""
CHUNKS_PER_TASK = 4
MAX_TASK_ID = 2**63 - 1
"""The largest id a store's integer column holds: any id past it names no task."""
STATUS = {
    "PENDING": "pending",
    "STARTED": "in-progress",
    "PROGRESS": "in-progress",
    "SUCCESS": "completed",
    "FAILURE": "failed",
    "CANCELLED": "failed",
}
ERROR = {"description": 'An error, as {"status": "error", "message"}'}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message}, status_code=status)


@router.post("/submit-task", status_code=201, responses={k: ERROR for k in (400, 401, 429, 503)})
async def submit_task(request: Request, caller: CallerDep) -> JSONResponse:
    """Queue a prime-finding task: `{"task_type": "compute", "task_data": {"limit",
    "method"}}`; the task's integer id is in `data.task_id`."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return _error(400, "the body is not JSON")
    if not isinstance(body, dict) or "task_type" not in body:
        return _error(400, "task_type is required")
    task_type, task_data = body["task_type"], body.get("task_data") or {}
    if task_type not in TASK_TYPES:
        return _error(400, f"unknown task_type {task_type!r}; one of {', '.join(TASK_TYPES)}")
    if not isinstance(task_data, dict):
        return _error(400, "task_data must be an object")
    limit, method = task_data.get("limit", DEFAULT_LIMIT), task_data.get("method", DEFAULT_METHOD)
    if method not in METHODS:
        return _error(400, f"unknown method {method!r}; one of {', '.join(METHODS)}")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 2:
        return _error(400, "limit must be an integer of at least 2")
    try:
        task_id = await run_in_threadpool(_submit, request, caller, task_type, limit, method)
    except ChunkwiseError as exc:
        return _error(http_status(exc), str(exc))
    max_attempts: int = request.app.state.settings.chunk_max_attempts
    data = {"task_id": task_id, "task_type": task_type, "status": "pending"}
    return JSONResponse(
        {
            "status": "success",
            "message": "Task submitted successfully",
            "data": {**data, "max_attempts": max_attempts},
        },
        status_code=201,
    )


def _submit(request: Request, caller: Caller, task_type: str, limit: int, method: str) -> int:
    job = submit_for(
        request,
        kind="prime_list",
        params={"start": 0, "end": limit, "algorithm": method},
        chunks=CHUNKS_PER_TASK,
        owner_id=caller.owner_id,
    )
    store: Store = request.app.state.store
    with store.writer() as session:
        return compat_rows.new_task_id(session, job_id=job.id, task_type=task_type)


@router.get("/task/{task_id}", responses={k: ERROR for k in (401, 404, 503)})
async def task(task_id: int, request: Request, caller: CallerDep) -> JSONResponse:
    """A task: status, attempts, worker, method, computation time, and once completed, its
    primes (or, past COMPAT_MAX_RESULT_BYTES, their count, first and last, and a link)."""
    state = request.app.state
    if not 1 <= task_id <= MAX_TASK_ID:
        return _error(404, "Task not found")
    try:
        found = await run_in_threadpool(_task_job, state.store, task_id)
        if found is None:
            raise JobNotFoundError("Task not found")
        job_id, task_type = found
        job = await job_answer(request, job_id, caller)
    except JobNotFoundError:
        return _error(404, "Task not found")
    chunks = await run_in_threadpool(_chunk_facts, state.store, job_id)
    data: dict[str, Any] = {
        "task_id": task_id,
        "task_type": task_type,
        "status": STATUS[job["state"]],
        "attempts": chunks["attempts"],
        "max_attempts": state.settings.chunk_max_attempts,
        "assigned_to": chunks["worker"],
        "method": job["params"].get("algorithm"),
        "job_id": job["job_id"],
    }
    if job["state"] == "SUCCESS":
        data |= await _primes(request, job)
    if job["state"] == "FAILURE":
        data["error"] = job["error"]
    return JSONResponse({"status": "success", "data": data})


def _task_job(store: Store, task_id: int) -> tuple[uuid.UUID, str] | None:
    with store.reader() as session:
        return compat_rows.task_job(session, task_id=task_id)


def _chunk_facts(store: Store, job_id: uuid.UUID) -> dict[str, Any]:
    """The most starts any chunk took, and the worker that recorded the latest chunk."""
    with store.reader() as session:
        rows = job_chunks(session, job_id=job_id)
    recorded = sorted(
        (row for row in rows if row.recorded),
        key=lambda row: row.finished_at.timestamp() if row.finished_at else 0.0,
    )
    latest = recorded[-1] if recorded else None
    return {
        "attempts": max((row.attempts for row in rows), default=0),
        "worker": None if latest is None else latest.worker,
    }


async def _primes(request: Request, job: dict[str, Any]) -> dict[str, Any]:
    state = request.app.state
    result = job["result"]
    count = int(result["count"])
    facts = {"computation_time": result.get("duration_sec"), "result_ts": job["finished_at"]}
    max_bytes: int = state.settings.compat_max_result_bytes
    if count * 8 > max_bytes:
        return facts | {
            "count": count,
            "first": result.get("first"),
            "last": result.get("last"),
            "primes_url": f"/api/jobs/{job['job_id']}/result",
            "note": f"{count:,} primes are too many to send whole; page through primes_url",
        }
    job_id = uuid.UUID(job["job_id"])
    page = await run_in_threadpool(
        lambda: item_page(state.store, job_id, offset=0, limit=max(count, 1))
    )
    return facts | {"primes": page.items, "count": count}


@router.get("/stats", responses={503: ERROR})
async def stats(request: Request) -> JSONResponse:
    """Tasks by status and the active workers, in the seed's shape."""
    state = request.app.state
    counts, workers = await run_in_threadpool(_stats, state.store, state.settings.worker_ttl_s)
    by_state = counts.by_state
    in_progress = by_state.get("STARTED", 0) + by_state.get("PROGRESS", 0)
    failed = by_state.get("FAILURE", 0) + by_state.get("CANCELLED", 0)
    data = {
        "pending_tasks": by_state.get(JobState.PENDING.value, 0),
        "in_progress_tasks": in_progress,
        "completed_tasks": by_state.get(JobState.SUCCESS.value, 0),
        "failed_tasks": failed,
        "active_workers": len(workers),
        "workers": [
            {
                "worker_id": worker.name,
                "last_heartbeat": worker.heartbeat_at.isoformat(),
                "status": "alive",
                "metadata": {"processes": worker.processes, "in_flight": len(worker.holding)},
            }
            for worker in workers
        ],
    }
    return JSONResponse({"status": "success", "data": data})


def _stats(store: Store, ttl_s: float) -> Any:
    with store.reader() as session:
        return job_stats(session), live_worker_rows(session, ttl_s=ttl_s)
