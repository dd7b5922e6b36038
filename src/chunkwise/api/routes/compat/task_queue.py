"""Seed 003, the Distributed Task Queue: `POST /submit-task`, `GET /task/{id}`, `GET /stats`.

A task finds the primes up to `task_data.limit` by `method` ("sieve" or
"trial_division"): a `prime_list` job underneath, named by a small integer id as the
seed's were. Answers keep the seed's envelope, `{"status": "success", "data": …}`, and its
errors, `{"status": "error", "message"}`, every one of them (a missing token, a refusal
with its Retry-After), naming the fields as the client sent them (`task_data.limit`). A
task's status is the seed's: pending, in_progress, completed or failed. Its worker-pull
endpoints (`/get-task`, `/submit-result`, `/heartbeat`) have no counterpart: chunkwise
pushes chunks to workers.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.anonymous import seed_caller
from chunkwise.api.accounts.caller import Caller
from chunkwise.api.item_pages import item_page
from chunkwise.api.routes.compat.errors import ErrorShape
from chunkwise.api.routes.jobs import JobOrder, job_answer, make_job
from chunkwise.errors import InvalidJobError, JobNotFoundError
from chunkwise.store import Job, JobState, Store
from chunkwise.store import compat as compat_rows
from chunkwise.store.inspection import job_chunks, job_stats, live_worker_rows

SeedCallerDep = Annotated[Caller, Depends(seed_caller("003"))]
"""The caller, anonymous where CHUNKWISE_COMPAT_ANONYMOUS names seed 003."""


def _error_body(request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
    return {"status": "error", "message": message}


SHAPE = ErrorShape(
    _error_body,
    fields={"params.end": "task_data.limit", "params.algorithm": "task_data.method"},
    not_found="Task not found",
)
router = APIRouter(tags=["compat: task queue (seed 003)"], route_class=SHAPE.route_class())

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
    "STARTED": "in_progress",
    "PROGRESS": "in_progress",
    "SUCCESS": "completed",
    "FAILURE": "failed",
    "CANCELLED": "failed",
}
ERROR = {"description": 'An error, as {"status": "error", "message"}'}


def _invalid(message: str, field: str) -> InvalidJobError:
    return InvalidJobError(message, field=field)


@router.post("/submit-task", status_code=201, responses={k: ERROR for k in (400, 401, 429, 503)})
async def submit_task(request: Request, caller: SeedCallerDep) -> JSONResponse:
    """Queue a prime-finding task: `{"task_type": "compute", "task_data": {"limit",
    "method"}}`; the task's integer id is in `data.task_id`, its job's in `data.job_id`."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise _invalid("the body is not JSON", "body") from None
    if not isinstance(body, dict) or "task_type" not in body:
        raise _invalid("task_type is required", "task_type")
    task_type, task_data = body["task_type"], body.get("task_data") or {}
    if task_type not in TASK_TYPES:
        known = ", ".join(TASK_TYPES)
        raise _invalid(f"unknown task_type {task_type!r}; one of {known}", "task_type")
    if not isinstance(task_data, dict):
        raise _invalid("task_data must be an object", "task_data")
    limit, method = task_data.get("limit", DEFAULT_LIMIT), task_data.get("method", DEFAULT_METHOD)
    if method not in METHODS:
        known = ", ".join(METHODS)
        raise _invalid(f"unknown method {method!r}; one of {known}", "task_data.method")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 2:
        raise _invalid("limit must be an integer of at least 2", "task_data.limit")
    return await run_in_threadpool(_submit, request, caller, body, task_type, limit, method)


def _submit(
    request: Request, caller: Caller, sent: Any, task_type: str, limit: int, method: str
) -> JSONResponse:
    """The task made by `make_job`; its integer id is given with the job, so a replay with
    the same Idempotency-Key answers the same id."""
    store: Store = request.app.state.store
    max_attempts: int = request.app.state.settings.chunk_max_attempts

    def created(job: Job) -> JSONResponse:
        with store.writer() as session:
            task_id = compat_rows.new_task_id(session, job_id=job.id, task_type=task_type)
        data = {"task_id": task_id, "task_type": task_type, "status": "pending"}
        return JSONResponse(
            {
                "status": "success",
                "message": "Task submitted successfully",
                "data": {**data, "max_attempts": max_attempts, "job_id": str(job.id)},
            },
            status_code=201,
        )

    params = {"start": 0, "end": limit, "algorithm": method}
    order = JobOrder(kind="prime_list", params=params, chunks=CHUNKS_PER_TASK)
    return make_job(request, caller, order, answer=created, sent=sent)


@router.get("/task/{task_id}", responses={k: ERROR for k in (401, 404, 503)})
async def task(task_id: str, request: Request, caller: SeedCallerDep) -> JSONResponse:
    """A task: status, attempts, worker, method, computation time, and once completed, its
    primes (or, past COMPAT_MAX_RESULT_BYTES, their count, first and last, and a link)."""
    state = request.app.state
    digits = task_id.isascii() and task_id.isdigit() and len(task_id) <= len(str(MAX_TASK_ID))
    number = int(task_id) if digits else 0
    found = None
    if 1 <= number <= MAX_TASK_ID:  # as its Flask route, /task/<int:id>: else no task
        found = await run_in_threadpool(_task_job, state.store, number)
    if found is None:
        raise JobNotFoundError("Task not found")
    job_id, task_type = found
    job = await job_answer(request, job_id, caller)
    chunks = await run_in_threadpool(_chunk_facts, state.store, job_id)
    data: dict[str, Any] = {
        "task_id": number,
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


@router.get("/stats", responses={k: ERROR for k in (401, 503)})
async def stats(request: Request, _: SeedCallerDep) -> JSONResponse:
    """Tasks by status and the active workers, in the seed's shape (signed-in callers
    only, where accounts are on, as GET /api/stats)."""
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
