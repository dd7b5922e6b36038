"""Seed 001, Distributed Background Computation: the sum of 1..n as a job, at `/jobs…`
(its README) and `/v1/jobs…` (its code), with demo jobs, live events and health checks.

Its job answer: `{"job_id", "status": "pending|running|completed|failed", "progress":
0..1, "completed_chunks", "total_chunks", "result": <int>, "detail"}`. Bearer tokens and
Idempotency-Key behave as on chunkwise's own API; demo jobs share chunkwise's demo
service, limits and rate limit. Errors are FastAPI's `{"detail"}` (with chunkwise's
`field`), naming the fields as the client sent them (`n`); a job not found is "Job not
found", as its README words it, and a job of another kind is a 409.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from chunkwise.api.accounts.anonymous import seed_caller
from chunkwise.api.accounts.caller import Caller
from chunkwise.api.routes.compat.errors import ErrorShape, detail_body
from chunkwise.api.routes.compat.kinds import require_kind
from chunkwise.api.routes.demo import ANYONE, check_demo_limits
from chunkwise.api.routes.events import job_events
from chunkwise.api.routes.jobs import (
    CREATE_RESPONSES,
    ERRORS,
    JobOrder,
    job_answer,
    make_job,
    parse_job_id,
)
from chunkwise.schemas import JobCreate
from chunkwise.store import Job

SeedCallerDep = Annotated[Caller, Depends(seed_caller("001"))]
"""The caller, anonymous where CHUNKWISE_COMPAT_ANONYMOUS names seed 001."""

READ_RESPONSES: dict[int | str, dict[str, Any]] = {k: ERRORS[k] for k in (401, 404, 409, 503)}
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {503: {"description": "A part is down"}}
STATUS = {
    "PENDING": "pending",
    "STARTED": "running",
    "PROGRESS": "running",
    "SUCCESS": "completed",
    "FAILURE": "failed",
    "CANCELLED": "failed",
}
DETAIL = {
    "pending": "Waiting for a worker.",
    "running": "Computing.",
    "completed": "Computation finished successfully.",
}
KIND = "sum_range"
SHAPE = ErrorShape(detail_body, fields={"params.n": "n"}, not_found="Job not found")


class SumJob(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # numbers as JSON numbers

    n: int = Field(ge=1, description="Sum 1..n.")
    chunks: int = Field(default=4, ge=1, description="Parallel chunks.")


class SumJobAccepted(BaseModel):
    job_id: uuid.UUID
    status: str = "pending"


class SumJobView(BaseModel):
    job_id: uuid.UUID
    status: str = Field(description="pending, running, completed or failed.")
    progress: float = Field(description="Share of chunks done, 0 to 1.")
    completed_chunks: int
    total_chunks: int
    result: int | None
    detail: str


def _router(prefix: str) -> APIRouter:
    router = APIRouter(
        prefix=prefix,
        tags=["compat: background computation (seed 001)"],
        route_class=SHAPE.route_class(),
    )

    @router.post(
        "/jobs", status_code=202, response_model=SumJobAccepted, responses=CREATE_RESPONSES
    )
    def create(
        body: SumJob,
        request: Request,
        caller: SeedCallerDep,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """Sum 1..n in `chunks` parallel chunks."""
        return _accept(request, body, caller)  # make_job reads the Idempotency-Key

    @router.post(
        "/jobs/demo", status_code=202, response_model=SumJobAccepted, responses=CREATE_RESPONSES
    )
    def create_demo(
        body: SumJob,
        request: Request,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """A demo job without an account (n up to 10,000, 8 chunks, 5 a minute per IP)."""
        check_demo_limits(
            JobCreate(kind=KIND, params={"n": body.n}, chunks=body.chunks),
            request.app.state.settings,
        )
        return _accept(request, body, ANYONE, demo=True)

    @router.get("/jobs/demo/{job_id}", response_model=SumJobView, responses=READ_RESPONSES)
    async def get_demo(job_id: str, request: Request) -> SumJobView:
        """A demo job's status and result."""
        return await _view(request, job_id, ANYONE, demo=True)

    @router.get("/jobs/{job_id}", response_model=SumJobView, responses=READ_RESPONSES)
    async def get(job_id: str, request: Request, caller: SeedCallerDep) -> SumJobView:
        """A job's status, progress and result."""
        return await _view(request, job_id, caller, demo=False)

    @router.get("/jobs/{job_id}/events", response_class=StreamingResponse, responses=READ_RESPONSES)
    async def events(job_id: str, request: Request, caller: SeedCallerDep) -> StreamingResponse:
        """The job's progress as Server-Sent Events (chunkwise's events)."""
        return await job_events(request, parse_job_id(job_id), caller, demo=False)

    @router.get("/monitoring/health", responses=HEALTH_RESPONSES)
    async def monitoring_health(request: Request) -> JSONResponse:
        """Whether the service and its parts are up."""
        return _health(request)

    return router


def _accept(request: Request, body: SumJob, caller: Caller, *, demo: bool = False) -> JSONResponse:
    order = JobOrder(kind=KIND, params={"n": body.n}, chunks=body.chunks)
    return make_job(request, caller, order, answer=_accepted, sent=body.model_dump(), demo=demo)


def _accepted(job: Job) -> JSONResponse:
    return JSONResponse({"job_id": str(job.id), "status": "pending"}, status_code=202)


async def _view(request: Request, job_id: str, caller: Caller, *, demo: bool) -> SumJobView:
    job = await job_answer(request, parse_job_id(job_id), caller, demo=demo)
    where = f"/api/demo/jobs/{job_id}" if demo else f"/api/jobs/{job_id}"
    require_kind(job, kind=KIND, job_id=job_id, what="a sum of 1..n", where=where)
    status = STATUS[job["state"]]
    done, total = job["progress"]["completed"], job["progress"]["total"]
    result = job["result"]["sum"] if status == "completed" and job["result"] else None
    detail = (
        job.get("error") or ("Cancelled." if job["state"] == "CANCELLED" else "Failed.")
        if status == "failed"
        else DETAIL[status]
    )
    return SumJobView(
        job_id=job["job_id"],
        status=status,
        progress=round(done / total, 4) if total else 0.0,
        completed_chunks=done,
        total_chunks=total,
        result=result,
        detail=detail,
    )


def _health(request: Request) -> JSONResponse:
    report = request.app.state.health.report()
    healthy = report.status == "ok"
    return JSONResponse(
        {**report.model_dump(), "status": "healthy" if healthy else "unhealthy"},
        status_code=200 if healthy else 503,
    )


routers = [_router(""), _router("/v1")]
healthz = APIRouter(
    tags=["compat: background computation (seed 001)"], route_class=SHAPE.route_class()
)


@healthz.get("/healthz", responses=HEALTH_RESPONSES)
async def healthz_check(request: Request) -> JSONResponse:
    """Liveness for the seed's navbar: 200 while the service is up."""
    return _health(request)


routers.append(healthz)
