"""Seed 002, financial task processing: `POST /tasks` and `GET /tasks/{id}`, at `/tasks`
(its README) and `/api/v1/tasks` (its code), computed by the `monte_carlo` workload.

`data` carries the projection's parameters (`amount`, `rate`, and optionally `volatility`,
`years`, `paths`, `seed`); keys the projection does not take are ignored and named in the
answer's message. `priority` (high, medium, low) becomes the chunks' message priority on
Redis; chunks taken back from a dead worker still go first. Errors are the seed's
`{"code", "message", "details", "request_id"}`, every one of them (a body that fails
validation, a missing token, a refusal with its Retry-After), naming the fields as the
client sent them (`data.amount`); `request_id` is the answer's X-Request-ID.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.anonymous import seed_caller
from chunkwise.api.accounts.caller import Caller
from chunkwise.api.routes.compat.errors import ErrorShape
from chunkwise.api.routes.compat.kinds import require_kind
from chunkwise.api.routes.jobs import JobOrder, job_answer, make_job
from chunkwise.errors import JobNotFoundError
from chunkwise.logs import LOG_CONTEXT
from chunkwise.store import Job, Store, jobs

SeedCallerDep = Annotated[Caller, Depends(seed_caller("002"))]
"""The caller, anonymous where CHUNKWISE_COMPAT_ANONYMOUS names seed 002."""

KIND = "monte_carlo"
PROJECTION_KEYS = ("amount", "rate", "volatility", "years", "paths", "seed")
CHUNKS = 8
ERROR = {"description": 'An error, as {"code", "message", "details", "request_id"}'}
STATUS = {"PROGRESS": "STARTED", "CANCELLED": "FAILURE"}
CODES = {
    400: "INVALID_TASK",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "TASK_NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}
"""The error code of each status; any other is ERROR."""


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


def _error_body(request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
    """The seed's error: a code for the status, the field in `details`, the request id."""
    request_id = (LOG_CONTEXT.get() or {}).get("request_id") or uuid.uuid4().hex
    return {
        "code": CODES.get(status, "ERROR"),
        "message": message,
        "details": {} if field is None else {"field": field},
        "request_id": request_id,
    }


SHAPE = ErrorShape(
    _error_body,
    fields={
        **{f"params.{key}": f"data.{key}" for key in PROJECTION_KEYS},
        "params": "data",
    },
    not_found="Task not found",
)


def _router(prefix: str) -> APIRouter:
    router = APIRouter(
        prefix=prefix,
        tags=["compat: financial tasks (seed 002)"],
        route_class=SHAPE.route_class(),
    )

    @router.post(
        "/tasks",
        status_code=201,
        response_model=TaskCreated,
        responses={k: ERROR for k in (400, 401, 429, 503)},
    )
    async def create(body: TaskCreate, request: Request, caller: SeedCallerDep) -> JSONResponse:
        """Project an investment by Monte-Carlo simulation, at a priority."""
        params = {key: body.data[key] for key in PROJECTION_KEYS if key in body.data}
        ignored = sorted(set(body.data) - set(PROJECTION_KEYS))
        message = "Task created successfully and queued for processing"
        if ignored:
            message += f"; ignored: {', '.join(ignored)}"

        def created(job: Job) -> JSONResponse:
            answer = TaskCreated(task_id=job.id, queue=body.priority, message=message)
            return JSONResponse(answer.model_dump(mode="json"), status_code=201)

        order = JobOrder(kind=KIND, params=params, chunks=CHUNKS, priority=body.priority)
        sent = body.model_dump(mode="json")
        return await run_in_threadpool(
            lambda: make_job(request, caller, order, answer=created, sent=sent)
        )

    @router.get(
        "/tasks/{task_id}",
        response_model=TaskView,
        responses={k: ERROR for k in (401, 404, 409, 503)},
    )
    async def get(task_id: str, request: Request, caller: SeedCallerDep) -> JSONResponse:
        """A task's status and, once done, its projection."""
        state = request.app.state
        try:
            job_id = uuid.UUID(task_id)
        except ValueError:
            raise JobNotFoundError(f"no task with id {task_id}") from None
        job = await job_answer(request, job_id, caller)
        require_kind(job, kind=KIND, job_id=task_id, what="a projection")
        priority = await run_in_threadpool(_priority, state.store, job_id)
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
