"""Jobs: submit, look up, list, cancel."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.anonymous import seed_caller
from chunkwise.api.accounts.caller import Caller, CallerDep
from chunkwise.api.accounts.idempotent import answer_once
from chunkwise.api.accounts.rate_limits import RateLimits, client_ip
from chunkwise.api.conditional import NOT_MODIFIED, IfNoneMatch
from chunkwise.api.deps import CeleryDep, SettingsDep, StoreDep
from chunkwise.api.expiry import describe_expiry
from chunkwise.api.finished_jobs import (
    UNFINISHED_CACHE_CONTROL,
    FinishedBody,
    FinishedJobCache,
    finished_body,
)
from chunkwise.config import Settings
from chunkwise.engine import cancel_job, submit_job
from chunkwise.engine.admission import AdmissionBounds
from chunkwise.engine.job_views import job_starts, job_view
from chunkwise.engine.webhook_targets import ForbiddenCallbackError, check_at_submit
from chunkwise.errors import InvalidJobError, JobNotFoundError
from chunkwise.schemas import ErrorBody, JobAccepted, JobCreate, JobPage, JobView
from chunkwise.store import Job, JobState, Store, jobs, retention, webhooks
from chunkwise.workloads import workload_kinds

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

ERRORS: dict[int, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request"},
    401: {"model": ErrorBody, "description": "Accounts are on and no valid token was sent"},
    422: {"model": ErrorBody, "description": "The Idempotency-Key was used with another body"},
    403: {"model": ErrorBody, "description": "Sent by another site's page: refused"},
    404: {"model": ErrorBody, "description": "No such job"},
    409: {
        "model": ErrorBody,
        "description": "The job has already ended; or a request with this Idempotency-Key "
        "is still being handled",
    },
    429: {
        "model": ErrorBody,
        "description": "Too much unfinished work (CHUNKWISE_MAX_ACTIVE_JOBS, "
        "CHUNKWISE_MAX_QUEUED_CHUNKS, CHUNKWISE_MAX_ACTIVE_JOBS_PER_USER) or a rate limit: "
        "retry after the Retry-After header's seconds",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    },
    503: {"model": ErrorBody, "description": "Broker or store unreachable"},
}

JSON = "application/json"
JOB_VIEW = TypeAdapter(JobView)
"""Encodes a JobView as FastAPI encodes a route's return value, to the same bytes."""
UNFINISHED_HEADERS = {"Cache-Control": UNFINISHED_CACHE_CONTROL}


IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    description="Makes a retry safe: the same key and body answer as the first request did "
    "and create nothing; another body is 422; while the first is handled, 409. Kept "
    "CHUNKWISE_IDEMPOTENCY_TTL_S (a day).",
)
CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    k: ERRORS[k] for k in (400, 401, 403, 409, 422, 429, 503)
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=CREATE_RESPONSES,
)
def create_job(
    body: JobCreate,
    request: Request,
    caller: CallerDep,
    cache: Annotated[
        bool, Query(description="Reuse pieces computed by earlier jobs; false recomputes all.")
    ] = True,
    # Declared for the docs; make_job reads the header on every route that makes jobs.
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> JSONResponse:
    """Submit a job; it is split into chunks that workers compute in parallel."""
    return accept_job(request, caller, body, cache=cache)


@dataclass(frozen=True)
class JobOrder:
    """A job as a route asks for it, in chunkwise's terms."""

    kind: str
    params: dict[str, Any]
    chunks: int
    cache: bool = True
    priority: str = "medium"
    callback_url: str | None = None


def make_job(
    request: Request,
    caller: Caller,
    order: JobOrder,
    *,
    answer: Callable[[Job], JSONResponse],
    sent: Any,
    demo: bool = False,
) -> JSONResponse:
    """The one way a route makes a job, on chunkwise's own API and on every seed surface:
    nothing else here reaches `submit_job` (a test holds every module of the API to it).

    Its guards, in order, so that no route can make a job without them:
    1. a rate limit: the demo's per client IP; else the job limit per user (per client IP
       for a caller without an account where accounts are on; none with accounts off);
    2. what needs no store: the chunk count and the callback URL;
    3. the Idempotency-Key header, read here whether or not the route documents it: a
       retry with the same key and request answers as the first did and makes nothing;
    4. the kind on offer, then admission and the per-user quota, in the one transaction
       that creates the job.

    `answer` makes the route's answer from the new job (a replay gives it back as it was);
    `sent` is what the client sent, which with the path and query makes two requests the
    same. Runs in a worker thread, never on the event loop: it reads and writes the store.
    """
    limits: RateLimits = request.app.state.rate_limits
    ip = client_ip(request, limits.trusted_proxies)
    if demo:
        limits.hit_demo(request)
    elif caller.account is not None:
        limits.hit_jobs(str(caller.account.id))
    elif caller.auth_on:
        limits.hit_jobs(f"ip:{ip}")
    settings: Settings = request.app.state.settings
    check_chunk_count(order.chunks, settings)
    if order.callback_url is not None:
        check_callback_url(order.callback_url, settings)
    owner_id = None if demo else caller.owner_id
    account = caller.account
    # An anonymous caller's keys are its IP's, though its jobs have a shared owner.
    scope = f"demo-ip:{ip}" if demo else f"user:{account.id}" if account else f"ip:{ip}"
    return answer_once(
        request,
        scope=scope,
        key=request.headers.get("idempotency-key"),
        body=sent,
        handle=lambda: answer(_submit(request, order, owner_id=owner_id, demo=demo)),
    )


def _submit(request: Request, order: JobOrder, *, owner_id: uuid.UUID | None, demo: bool) -> Job:
    """Create the job and publish its chunks, with this API's settings; `make_job` only."""
    state = request.app.state
    settings: Settings = state.settings
    state.kind_offer.check(order.kind)  # a plug-in kind no live worker runs: 400
    job = submit_job(
        state.store,
        state.celery,
        kind=order.kind,
        params=order.params,
        chunks=order.chunks,
        limits=settings.workload_limits(),
        use_cache=order.cache,
        admission=AdmissionBounds.from_settings(settings),
        owner_id=owner_id,
        demo=demo,
        priority=order.priority,
        callback_url=order.callback_url,
    )
    state.metrics.submitted.labels(order.kind).inc()
    return job


def accept_job(
    request: Request, caller: Caller, body: JobCreate, *, cache: bool, demo: bool = False
) -> JSONResponse:
    """A job in chunkwise's own terms, made by `make_job`: the 202 that says where it is."""

    def accepted(job: Job) -> JSONResponse:
        answer = JobAccepted(job_id=job.id, status=job.state)
        location = f"/api/demo/jobs/{job.id}" if demo else f"/api/jobs/{job.id}"
        return JSONResponse(
            answer.model_dump(mode="json"), status_code=202, headers={"Location": location}
        )

    order = JobOrder(
        kind=body.kind,
        params=body.params,
        chunks=body.chunks,
        cache=cache,
        callback_url=body.callback_url,
    )
    sent = body.model_dump(mode="json")
    return make_job(request, caller, order, answer=accepted, sent=sent, demo=demo)


@router.get("", responses={400: ERRORS[400], 503: ERRORS[503]})
def list_jobs(
    store: StoreDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    state: Annotated[
        list[str] | None,
        Query(description="Only jobs in these states (repeat for several), e.g. SUCCESS."),
    ] = None,
    kind: Annotated[
        list[str] | None, Query(description="Only jobs of these kinds (repeat for several).")
    ] = None,
) -> JobPage:
    """Jobs, newest first, a page at a time; filtered by state and kind when asked."""
    states, kinds = parse_states(state or []), parse_kinds(kind or [])
    with store.reader() as session:
        visible = caller.visible()
        page = jobs.list_jobs(
            session, limit=limit, offset=offset, states=states, kinds=kinds, visible=visible
        )
        total = jobs.count_jobs(session, states=states, kinds=kinds, visible=visible)
        starts = job_starts(session, page)
    next_offset = offset + len(page) if offset + len(page) < total else None
    return JobPage(
        items=[job_view(job, first_start=starts.get(job.id)) for job in page],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=next_offset,
    )


@router.get(
    "/{job_id}",
    response_model=JobView,
    responses={304: NOT_MODIFIED, 404: ERRORS[404], 503: ERRORS[503]},
)
async def get_job(
    job_id: str,
    request: Request,
    # Seed 000's status call: anonymous where CHUNKWISE_COMPAT_ANONYMOUS names it.
    caller: Annotated[Caller, Depends(seed_caller("000"))],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A job's state, progress and, once finished, its result or error.

    An ended job's answer never changes: it carries an ETag and may be kept until the
    job expires (Cache-Control); a running job's answer is never to be kept.
    """
    job_uuid = parse_job_id(job_id)
    state = request.app.state
    finished_jobs: FinishedJobCache = state.finished_jobs
    now = time.time()
    finished = finished_jobs.get(job_uuid, now=now)
    if finished is not None and not caller.may_see(finished.owner_id, finished.demo):
        raise JobNotFoundError(f"no job with id {job_uuid}")
    if finished is None:
        read = await run_in_threadpool(
            read_job_body, state.store, job_uuid, state.settings, now, caller
        )
        if not isinstance(read, FinishedBody):
            return Response(read, media_type=JSON, headers=UNFINISHED_HEADERS)
        finished = read
        finished_jobs.put(job_uuid, finished)
    return finished.response(now=now, if_none_match=if_none_match)


def read_job_body(
    store: Store,
    job_id: uuid.UUID,
    settings: Settings,
    now: float,
    caller: Caller,
    *,
    demo: bool = False,
) -> bytes | FinishedBody:
    """The job's encoded answer, read at `now`: a `FinishedBody` once the job has ended.

    A job the caller may not see is a 404 like a missing one; `demo` reads demo jobs.
    """
    job = visible_job(store, job_id, settings, caller, demo=demo)
    delivery, starts = None, {}
    if job.callback_url is not None or job.state is JobState.PENDING:
        with store.reader() as session:  # a PENDING job reads STARTED once a chunk starts
            starts = job_starts(session, [job])
            if job.callback_url is not None:
                delivery = webhooks.delivery_of(session, job_id=job_id)
    body = JOB_VIEW.dump_json(job_view(job, delivery, first_start=starts.get(job.id)))
    if not job.state.is_terminal or job.finished_at is None:
        return body
    if delivery is not None and not delivery.settled:
        return body  # its webhook record still changes: not an ended answer yet
    expires_at = job.finished_at.timestamp() + settings.result_ttl_s
    return finished_body(body, expires_at=expires_at, now=now, owner_id=job.owner_id, demo=job.demo)


async def job_answer(
    request: Request, job_id: uuid.UUID, caller: Caller, *, demo: bool = False
) -> dict[str, Any]:
    """The job as GET /api/jobs/{id} answers it, decoded: what the seed surfaces reshape.
    JobNotFoundError when the caller may not see it."""
    state = request.app.state
    read = await run_in_threadpool(
        partial(read_job_body, demo=demo), state.store, job_id, state.settings, 0.0, caller
    )
    answer: dict[str, Any] = json.loads(read.body if isinstance(read, FinishedBody) else read)
    return answer


def visible_job(
    store: Store, job_id: uuid.UUID, settings: Settings, caller: Caller, *, demo: bool = False
) -> Job:
    """The job, if the caller may see it (the demo routes see demo jobs only); else 404,
    the same whether the job is another's, expired, or never was."""
    with store.reader() as session:
        job = jobs.get_job(session, job_id=job_id)
        tombstone = retention.expired_job(session, job_id=job_id) if job is None else None
    owner, is_demo = (
        (job.owner_id, job.demo)
        if job is not None
        else (tombstone.owner_id, tombstone.demo)
        if tombstone is not None
        else (None, False)
    )
    visible = is_demo if demo else caller.may_see(owner, is_demo)
    if tombstone is not None and visible:
        raise JobNotFoundError(describe_expiry(tombstone, result_ttl_s=settings.result_ttl_s))
    if job is None or not visible:
        raise JobNotFoundError(f"no job with id {job_id}")
    return job


@router.post("/{job_id}/cancel", responses={k: ERRORS[k] for k in (403, 404, 409, 503)})
def cancel(
    job_id: str, store: StoreDep, celery: CeleryDep, settings: SettingsDep, caller: CallerDep
) -> JobView:
    """Cancel a running job: its remaining chunks are skipped and its result never set."""
    job_uuid = parse_job_id(job_id)
    visible_job(store, job_uuid, settings, caller)
    return job_view(cancel_job(store, celery, job_id=job_uuid))


@router.delete("/{job_id}", responses={k: ERRORS[k] for k in (403, 404, 409, 503)})
def delete(
    job_id: str, store: StoreDep, celery: CeleryDep, settings: SettingsDep, caller: CallerDep
) -> JobView:
    """Cancel a running job, as POST /api/jobs/{job_id}/cancel does; the record is kept."""
    return cancel(job_id, store, celery, settings, caller)


def check_callback_url(url: str, settings: Settings) -> None:
    """Refuse a callback URL webhooks may never reach."""
    try:
        check_at_submit(url, allow_private=settings.webhook_allow_private)
    except ForbiddenCallbackError as exc:
        raise InvalidJobError(f"callback_url: {exc}", field="callback_url") from None


def check_chunk_count(chunks: int, settings: Settings) -> None:
    """Refuse more chunks than CHUNKWISE_MAX_CHUNKS (the schema leaves the bound to settings)."""
    if chunks > settings.max_chunks:
        raise InvalidJobError(
            f"chunks: Input should be less than or equal to {settings.max_chunks} "
            "(CHUNKWISE_MAX_CHUNKS)",
            field="chunks",
        )


def parse_states(values: list[str]) -> list[JobState]:
    """The states a list is filtered by; an unknown one is a 400 naming the field."""
    unknown = [value for value in values if value not in JobState.__members__]
    if unknown:
        known = ", ".join(JobState.__members__)
        raise InvalidJobError(f"state: unknown state {unknown[0]!r}; one of {known}", field="state")
    return [JobState(value) for value in values]


def parse_kinds(values: list[str]) -> list[str]:
    """The kinds a list is filtered by; an unknown one is a 400 naming the field."""
    unknown = [value for value in values if value not in workload_kinds()]
    if unknown:
        known = ", ".join(workload_kinds())
        raise InvalidJobError(f"kind: unknown kind {unknown[0]!r}; one of {known}", field="kind")
    return values


def parse_job_id(job_id: str) -> uuid.UUID:
    """The job id as a UUID; a malformed id names no job."""
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise JobNotFoundError(f"no job with id {job_id!r}: job ids are UUIDs") from None
