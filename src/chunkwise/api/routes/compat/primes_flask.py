"""Seed 004, Primes: `POST /primes?start_num=&end_num=` gives a job id as a JSON string,
the same id again for the same range while its result is kept; `GET /result/{id}` is 204
while the job runs, then the primes as a JSON string, `"[5, 7, 11]"`.

Where the original answers 204 forever for a failed job, this answers 500 with a message;
a result too large to send whole (COMPAT_MAX_RESULT_BYTES) is a 413 pointing at the paged
result. Errors are `{"message"}`, as the seed's are.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import Caller, CallerDep
from chunkwise.api.error_status import http_status
from chunkwise.api.item_pages import item_page
from chunkwise.api.routes.jobs import job_answer, submit_for
from chunkwise.errors import ChunkwiseError, JobNotFoundError
from chunkwise.store import compat as compat_rows
from chunkwise.store import jobs

router = APIRouter(tags=["compat: primes (seed 004)"])
CHUNKS_PER_MILLION = 4
"""Chunks for a range: a few per million numbers, from 1 to 32."""
MAX_CHUNKS = 32


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


MESSAGE = {"description": 'An error, as {"message"}'}


@router.post("/primes", responses={k: MESSAGE for k in (400, 401, 403, 429, 503)})
def primes(
    request: Request,
    caller: CallerDep,
    start_num: Annotated[int, Query(ge=0)],
    end_num: Annotated[int, Query(ge=0)],
) -> Response:
    """List the primes in [start_num, end_num]; the job id, as a JSON string."""
    if end_num < start_num:
        return _message(400, "end_num must not be less than start_num")
    key = f"primes:{start_num}:{end_num}:{caller.owner_id or ''}"
    try:
        job_id = _same_request_or_new(request, caller, key, start_num, end_num)
    except ChunkwiseError as exc:
        return _message(http_status(exc), str(exc))
    return JSONResponse(str(job_id))


def _same_request_or_new(
    request: Request, caller: Caller, key: str, start: int, end: int
) -> uuid.UUID:
    store = request.app.state.store
    with store.reader() as session:
        known = compat_rows.job_for(session, key=key)
        if known is not None and jobs.get_job(session, job_id=known) is not None:
            return known
    chunks = max(1, min(MAX_CHUNKS, (end - start) * CHUNKS_PER_MILLION // 10**6))
    job = submit_for(
        request,
        kind="prime_list",
        params={"start": start, "end": end},
        chunks=chunks,
        owner_id=caller.owner_id,
    )
    with store.writer() as session:
        compat_rows.remember(session, key=key, job_id=job.id)
    return job.id


@router.get(
    "/result/{job_id}",
    responses={
        204: {"description": "Still processing"},
        **{k: MESSAGE for k in (401, 404, 410, 413, 500, 503)},
    },
)
async def result(job_id: str, request: Request, caller: CallerDep) -> Response:
    """204 while the job runs; then its primes as a JSON string like "[5, 7, 11]"."""
    state = request.app.state
    try:
        parsed = uuid.UUID(job_id)
        body = await job_answer(request, parsed, caller)
    except (ValueError, JobNotFoundError):
        return _message(404, f"no job with id {job_id}")
    if body["state"] == "FAILURE":
        return _message(500, f"the job failed: {body['error']}")
    if body["state"] == "CANCELLED":
        return _message(410, "the job was cancelled")
    if body["state"] != "SUCCESS":
        return Response(status_code=204)
    count = int(body["result"]["count"])
    max_bytes: int = state.settings.compat_max_result_bytes
    if count * 8 > max_bytes:  # at most ~8 bytes an item: decide before reading them
        return _message(
            413,
            f"{count:,} primes are too many to send whole; page through them at "
            f"/api/jobs/{job_id}/result or download /api/jobs/{job_id}/result.txt",
        )
    page = await run_in_threadpool(item_page, state.store, parsed, offset=0, limit=max(count, 1))
    text = "[" + ", ".join(map(str, page.items)) + "]"
    if len(text) > max_bytes:
        return _message(413, f"the result is larger than {max_bytes:,} bytes")
    return JSONResponse(text)
