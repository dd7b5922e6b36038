"""Seed 002, financial task processing: `POST /tasks` and `GET /tasks/{id}`, at `/tasks`
(its README) and `/api/v1/tasks` (its code), computed by the `monte_carlo` workload.

`data` carries the projection's parameters (`amount`, `rate`, and optionally `volatility`,
`years`, `paths`, `seed`); keys the projection does not take are ignored and named in the
answer's message. `priority` (high, medium, low) becomes the chunks' message priority on
Redis; chunks taken back from a dead worker still go first. Errors are the seed's
`{"code", "message", "details", "request_id"}`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import CallerDep
from chunkwise.api.error_status import http_status
from chunkwise.api.routes.jobs import job_answer, submit_for
from chunkwise.errors import ChunkwiseError, JobNotFoundError
from chunkwise.store import Store, jobs

PROJECTION_KEYS = ("amount", "rate", "volatility", "years", "paths", "seed")
CHUNKS = 8
ERROR = {"description": 'An error, as {"code", "message", "details", "request_id"}'}
STATUS = {"PROGRESS": "STARTED", "CANCELLED": "FAILURE"}


class TaskCreate(BaseModel):
    data: dict[str, Any] = Field(description="The projection: amount, rate, …")
    priority: Literal["high", "medium", "low"] = "medium"
    queue: str | None = Field(default=None, max_length=50, description="Ignored: one queue.")


class TaskCreated(BaseModel):
    task_id: uuid.UUID
    status: str = "PENDING"
    queue: str
    message: str
    estimated_wait_time_seconds: int | None = None


class TaskView(BaseModel):
    task_id: uuid.UUID
    status: str = Field(description="PENDING, STARTED, SUCCESS or FAILURE.")
    priority: str
    queue: str
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    processing_time_ms: float | None


def _error(request: Request, status: int, code: str, message: str) -> JSONResponse:
    request_id = request.headers.get("x-request-id", uuid.uuid4().hex[:12])
    body = {"code": code, "message": message, "details": {}, "request_id": request_id}
    return JSONResponse(body, status_code=status)


def _router(prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["compat: financial tasks (seed 002)"])

    @router.post(
        "/tasks",
        status_code=201,
        response_model=TaskCreated,
        responses={k: ERROR for k in (400, 401, 429, 503)},
    )
    async def create(body: TaskCreate, request: Request, caller: CallerDep) -> JSONResponse:
        """Project an investment by Monte-Carlo simulation, at a priority."""
        params = {key: body.data[key] for key in PROJECTION_KEYS if key in body.data}
        ignored = sorted(set(body.data) - set(PROJECTION_KEYS))
        try:
            job = await run_in_threadpool(
                lambda: submit_for(
                    request,
                    kind="monte_carlo",
                    params=params,
                    chunks=CHUNKS,
                    owner_id=caller.owner_id,
                    priority=body.priority,
                )
            )
        except ChunkwiseError as exc:
            return _error(request, http_status(exc), "INVALID_TASK", str(exc))
        message = "Task created successfully and queued for processing"
        if ignored:
            message += f"; ignored: {', '.join(ignored)}"
        created = TaskCreated(task_id=job.id, queue=body.priority, message=message)
        return JSONResponse(created.model_dump(mode="json"), status_code=201)

    @router.get("/tasks/{task_id}", response_model=TaskView, responses={404: ERROR, 503: ERROR})
    async def get(task_id: str, request: Request, caller: CallerDep) -> JSONResponse:
        """A task's status and, once done, its projection."""
        state = request.app.state
        try:
            job_id = uuid.UUID(task_id)
            job = await job_answer(request, job_id, caller)
            priority = await run_in_threadpool(_priority, state.store, job_id)
        except (ValueError, JobNotFoundError):
            return _error(request, 404, "TASK_NOT_FOUND", f"no task with id {task_id}")
        duration = job.get("duration_sec")
        ended = job["finished_at"] is not None
        view = TaskView(
            task_id=job_id,
            status=STATUS.get(job["state"], job["state"]),
            priority=priority,
            queue=priority,
            result=job["result"],
            error=job["error"],
            created_at=job["created_at"],
            started_at=job["started_at"],
            completed_at=job["finished_at"],
            processing_time_ms=round(duration * 1000, 1) if ended and duration else None,
        )
        return JSONResponse(view.model_dump(mode="json"))

    return router


def _priority(store: Store, job_id: uuid.UUID) -> str:
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
    return (job.priority if job is not None else None) or "medium"


routers = [_router(""), _router("/api/v1")]
