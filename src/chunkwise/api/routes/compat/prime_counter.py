"""Seed 000, the Distributed Prime Counter: `POST /api/count-primes {"n", "chunks"}`.

Its status call, `GET /api/jobs/{id}`, is chunkwise's own job resource, whose answer is a
superset of the one its README shows (job_id, state, progress, result.prime_count).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chunkwise.api.accounts.caller import CallerDep
from chunkwise.api.accounts.idempotent import answer_once
from chunkwise.api.routes.jobs import (
    CREATE_RESPONSES,
    IDEMPOTENCY_KEY,
    caller_scope,
    submit_for,
)
from chunkwise.schemas import JobAccepted

router = APIRouter(tags=["compat: prime counter (seed 000)"])


class CountPrimes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=10_000, description="Count the primes up to n (at least 10,000).")
    chunks: int = Field(default=16, ge=1, le=128, description="Parallel chunks, 1 to 128.")


@router.post(
    "/api/count-primes", status_code=202, response_model=JobAccepted, responses=CREATE_RESPONSES
)
def count_primes(
    body: CountPrimes,
    request: Request,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    """Count the primes up to n in `chunks` parallel chunks; follow it at /api/jobs/{id}."""

    def submit() -> JSONResponse:
        job = submit_for(
            request,
            kind="prime_count",
            params={"n": body.n},
            chunks=body.chunks,
            owner_id=caller.owner_id,
        )
        return JSONResponse(
            {"job_id": str(job.id), "status": "PENDING"},
            status_code=202,
            headers={"Location": f"/api/jobs/{job.id}"},
        )

    scope = caller_scope(request, caller)
    return answer_once(
        request, scope=scope, key=idempotency_key, body=body.model_dump(), handle=submit
    )
