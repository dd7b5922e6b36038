"""Seed 004, Primes: `POST /primes?start_num=&end_num=` gives a job id as a JSON string,
the same id again for the same range while its result is kept; `GET /result/{id}` is 204
while the job runs, then the primes as a JSON string, `"[5, 7, 11]"`.

Where the original answers 204 forever for a failed job, this answers 500 with a message;
a result too large to send whole (COMPAT_MAX_RESULT_BYTES) is a 413 pointing at the paged
result. Errors are `{"message"}`, as the seed's are, every one of them (a malformed query,
a missing token, a refusal with its Retry-After), naming `start_num` and `end_num`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.anonymous import seed_caller
from chunkwise.api.accounts.caller import Caller
from chunkwise.api.item_pages import item_page
from chunkwise.api.routes.compat.errors import ErrorShape, message_body
from chunkwise.api.routes.compat.kinds import require_kind
from chunkwise.api.routes.jobs import JobOrder, job_answer, make_job
from chunkwise.errors import InvalidJobError, JobNotFoundError
from chunkwise.store import Job, jobs
from chunkwise.store import compat as compat_rows

SeedCallerDep = Annotated[Caller, Depends(seed_caller("004"))]
"""The caller, anonymous where CHUNKWISE_COMPAT_ANONYMOUS names seed 004."""

KIND = "prime_list"
SHAPE = ErrorShape(
    message_body,
    fields={
        "params.start": "start_num",
        "params.end": "end_num",
        "query.start_num": "start_num",
        "query.end_num": "end_num",
    },
)
router = APIRouter(tags=["compat: primes (seed 004)"], route_class=SHAPE.route_class())
CHUNKS_PER_MILLION = 4
"""Chunks for a range: a few per million numbers, from 1 to 32."""
MAX_CHUNKS = 32


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _too_large(job_id: str, reason: str) -> JSONResponse:
    """413 for a result too large to send whole, pointing at chunkwise's paged result."""
    return _message(
        413,
        f"{reason}; page through them at /api/jobs/{job_id}/result "
        f"or download /api/jobs/{job_id}/result.txt",
    )


MESSAGE = {"description": 'An error, as {"message"}'}


@router.post("/primes", responses={k: MESSAGE for k in (400, 401, 403, 429, 503)})
def primes(
    request: Request,
    caller: SeedCallerDep,
    start_num: Annotated[int, Query(ge=0)],
    end_num: Annotated[int, Query(ge=0)],
) -> Response:
    """List the primes in [start_num, end_num]; the job id, as a JSON string."""
    if end_num < start_num:
        raise InvalidJobError("end_num must not be less than start_num", field="end_num")
    key = f"primes:{start_num}:{end_num}:{caller.owner_id or ''}"
    return _same_request_or_new(request, caller, key, start_num, end_num)


def _same_request_or_new(
    request: Request, caller: Caller, key: str, start: int, end: int
) -> JSONResponse:
    """The job id of the same range asked before, while its job is kept; else a new job's,
    made by `make_job`."""
    store = request.app.state.store
    with store.reader() as session:
        known = compat_rows.job_for(session, key=key)
        if known is not None and jobs.get_job(session, job_id=known) is not None:
            return JSONResponse(str(known))

    def remembered(job: Job) -> JSONResponse:
        with store.writer() as session:
            compat_rows.remember(session, key=key, job_id=job.id)
        return JSONResponse(str(job.id))

    chunks = max(1, min(MAX_CHUNKS, (end - start) * CHUNKS_PER_MILLION // 10**6))
    order = JobOrder(kind=KIND, params={"start": start, "end": end}, chunks=chunks)
    return make_job(request, caller, order, answer=remembered, sent=None)


@router.get(
    "/result/{job_id}",
    responses={
        204: {"description": "Still processing"},
        **{k: MESSAGE for k in (401, 404, 409, 410, 413, 500, 503)},
    },
)
async def result(job_id: str, request: Request, caller: SeedCallerDep) -> Response:
    """204 while the job runs; then its primes as a JSON string like "[5, 7, 11]"."""
    state = request.app.state
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFoundError(f"no job with id {job_id}") from None
    body = await job_answer(request, parsed, caller)
    require_kind(body, kind=KIND, job_id=job_id, what="a list of primes")
    if body["state"] == "FAILURE":
        return _message(500, f"the job failed: {body['error']}")
    if body["state"] == "CANCELLED":
        return _message(410, "the job was cancelled")
    if body["state"] != "SUCCESS":
        return Response(status_code=204)
    count = int(body["result"]["count"])
    max_bytes: int = state.settings.compat_max_result_bytes
    if count * 8 > max_bytes:  # at most ~8 bytes an item: decide before reading them
        return _too_large(job_id, f"{count:,} primes are too many to send whole")
    page = await run_in_threadpool(item_page, state.store, parsed, offset=0, limit=max(count, 1))
    text = "[" + ", ".join(map(str, page.items)) + "]"
    if len(text) > max_bytes:
        reason = f"the primes take {len(text):,} bytes, over the {max_bytes:,} sent whole"
        return _too_large(job_id, reason)
    return JSONResponse(text)
