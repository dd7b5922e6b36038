"""Demo endpoints: jobs anyone may run without an account, within tight limits and a
per-IP rate limit. Demo jobs have no owner, and only these routes show them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import Caller
from chunkwise.api.finished_jobs import FinishedBody
from chunkwise.api.routes.events import job_events
from chunkwise.api.routes.jobs import (
    CREATE_RESPONSES,
    ERRORS,
    IDEMPOTENCY_KEY,
    JSON,
    UNFINISHED_HEADERS,
    accept_job,
    parse_job_id,
    read_job_body,
)
from chunkwise.config import Settings
from chunkwise.errors import InvalidJobError
from chunkwise.schemas import JobAccepted, JobCreate, JobView
from chunkwise.store import Store

router = APIRouter(prefix="/api/demo/jobs", tags=["demo"])
ANYONE = Caller(None, auth_on=True)
"""The demo routes' caller: nobody in particular."""


def demo_bounds(settings: Settings) -> dict[str, dict[str, int]]:
    """Each demo kind's bounds on its parameters, from DEMO_LIMITS ({"kind.param": most})."""
    bounds: dict[str, dict[str, int]] = {}
    for name, most in settings.demo_limits.items():
        kind, _, param = name.partition(".")
        bounds.setdefault(kind, {})[param] = most
    return bounds


@router.post("", status_code=202, response_model=JobAccepted, responses=CREATE_RESPONSES)
def create_demo_job(
    body: JobCreate,
    request: Request,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> Response:
    """Run a small job without an account: by default sum_range (n up to 10,000) or
    prime_count (n up to 10^7), at most 8 chunks, 5 a minute per address (DEMO_LIMITS,
    DEMO_MAX_CHUNKS, DEMO_RATE_LIMIT)."""
    check_demo_limits(body, request.app.state.settings)
    return accept_job(request, ANYONE, body, cache=True, demo=True)


def check_demo_limits(body: JobCreate, settings: Settings) -> None:
    """400 naming the field when a demo job asks for more than the demo allows."""
    bounds = demo_bounds(settings)
    if body.kind not in bounds:
        raise InvalidJobError(
            f"kind: the demo runs {' and '.join(bounds)}; sign in for the others", field="kind"
        )
    if body.chunks > settings.demo_max_chunks:
        raise InvalidJobError(
            f"chunks: the demo allows at most {settings.demo_max_chunks}", field="chunks"
        )
    if body.callback_url is not None:  # anyone may call the demo: no POSTs on their behalf
        raise InvalidJobError(
            "callback_url: demo jobs send no webhooks; sign in for them", field="callback_url"
        )
    for name, most in bounds[body.kind].items():
        value: Any = body.params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > most:
            raise InvalidJobError(
                f"params.{name}: the demo allows at most {most:,}", field=f"params.{name}"
            )


@router.get("/{job_id}", response_model=JobView, responses={404: ERRORS[404], 503: ERRORS[503]})
async def get_demo_job(job_id: str, request: Request) -> Response:
    """A demo job's state, progress and result."""
    state = request.app.state
    read = await run_in_threadpool(_read, state.store, parse_job_id(job_id), state.settings)
    body = read if isinstance(read, bytes) else read.body
    return Response(body, media_type=JSON, headers=UNFINISHED_HEADERS)


def _read(store: Store, job_id: uuid.UUID, settings: Settings) -> bytes | FinishedBody:
    return read_job_body(store, job_id, settings, 0.0, ANYONE, demo=True)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={404: ERRORS[404], 503: ERRORS[503]},
)
async def demo_job_events(job_id: str, request: Request) -> StreamingResponse:
    """A demo job's progress as Server-Sent Events, as GET /api/jobs/{id}/events."""
    return await job_events(request, parse_job_id(job_id), ANYONE, demo=True)
