"""Seed 000, the Distributed Prime Counter: `POST /api/count-primes {"n", "chunks"}`.

Its status call, `GET /api/jobs/{id}`, is chunkwise's own job resource, whose answer is a
superset of the one its README shows (job_id, state, progress, result.prime_count). Its
errors are FastAPI's `{"detail"}`, with chunkwise's `field`, naming `n` as the client did.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chunkwise.api.accounts.anonymous import seed_caller
from chunkwise.api.accounts.caller import Caller
from chunkwise.api.routes.compat.errors import ErrorShape, detail_body
from chunkwise.api.routes.jobs import CREATE_RESPONSES, IDEMPOTENCY_KEY, JobOrder, make_job
from chunkwise.schemas import JobAccepted
from chunkwise.store import Job

SeedCallerDep = Annotated[Caller, Depends(seed_caller("000"))]
"""The caller, anonymous where CHUNKWISE_COMPAT_ANONYMOUS names seed 000."""

SHAPE = ErrorShape(detail_body, fields={"params.n": "n"})
router = APIRouter(tags=["compat: prime counter (seed 000)"], route_class=SHAPE.route_class())


class CountPrimes(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # numbers as JSON numbers

    n: int = Field(ge=10_000, description="Count the primes up to n (at least 10,000).")
    chunks: int = Field(default=16, ge=1, le=128, description="Parallel chunks, 1 to 128.")


@router.post(
    "/api/count-primes", status_code=202, response_model=JobAccepted, responses=CREATE_RESPONSES
)
def count_primes(
    body: CountPrimes,
    request: Request,
    caller: SeedCallerDep,
    # Declared for the docs; make_job reads the header.
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    """Count the primes up to n in `chunks` parallel chunks; follow it at /api/jobs/{id}."""
    order = JobOrder(kind="prime_count", params={"n": body.n}, chunks=body.chunks)
    return make_job(request, caller, order, answer=_accepted, sent=body.model_dump())


def _accepted(job: Job) -> JSONResponse:
    return JSONResponse(
        {"job_id": str(job.id), "status": "PENDING"},
        status_code=202,
        headers={"Location": f"/api/jobs/{job.id}"},
    )
