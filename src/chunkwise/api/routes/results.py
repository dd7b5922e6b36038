"""Long results: a job's items a page at a time, or streamed as text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter

from chunkwise.api.accounts.caller import CallerDep
from chunkwise.api.conditional import NOT_MODIFIED, IfNoneMatch, etag_of, validated_response
from chunkwise.api.deps import SettingsDep, StoreDep
from chunkwise.api.item_pages import item_page, item_text, listable_job
from chunkwise.api.routes.jobs import ERRORS, parse_job_id, visible_job
from chunkwise.schemas import ResultPage

router = APIRouter(prefix="/api/jobs", tags=["results"])
RESPONSES: dict[int | str, dict[str, Any]] = {code: ERRORS[code] for code in (400, 404, 409, 503)}
RESULT_PAGE = TypeAdapter(ResultPage)


@router.get(
    "/{job_id}/result",
    response_model=ResultPage,
    responses={304: NOT_MODIFIED, **RESPONSES},
)
def result_page(
    job_id: str,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A page of a finished job's result items (the primes of a prime_list job).

    A page never changes while its job exists. It carries an ETag so that a client which
    kept it is answered 304 without the items; `no-cache` has the client ask each time,
    so a page is never reused after its job has expired.
    """
    visible_job(store, parse_job_id(job_id), settings, caller)
    page = item_page(store, parse_job_id(job_id), offset=offset, limit=limit)
    end = offset + len(page.items)
    body = RESULT_PAGE.dump_json(
        ResultPage(
            job_id=parse_job_id(job_id),
            total=page.total,
            offset=offset,
            limit=limit,
            items=page.items,
            next_offset=end if end < page.total else None,
        )
    )
    return validated_response(
        body, etag=etag_of(body), cache_control="private, no-cache", if_none_match=if_none_match
    )


@router.get(
    "/{job_id}/result.txt",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}}}, **RESPONSES},
)
def result_text(
    job_id: str, store: StoreDep, settings: SettingsDep, caller: CallerDep
) -> StreamingResponse:
    """The whole result as a text download, one item per line, streamed."""
    parsed = parse_job_id(job_id)
    visible_job(store, parsed, settings, caller)
    listable_job(store, parsed)  # refuse before the 200 starts
    headers = {"Content-Disposition": f'attachment; filename="{parsed}.txt"'}
    return StreamingResponse(item_text(store, parsed), media_type="text/plain", headers=headers)
