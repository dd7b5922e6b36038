"""Job creation made idempotent by an Idempotency-Key header.

The key is claimed in the store before the job is created (one INSERT decides a race), so
a retried request with the same key and body gets the first answer again and creates
nothing; one with another body is a 422; one that arrives while the first is still being
handled is a 409. A request that fails before it has an answer gives its claim back, so
the client may retry with the same key. Keys are scoped per user (per IP on the demo
endpoints, or with accounts off) and remembered for IDEMPOTENCY_TTL_S.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from chunkwise.errors import (
    IdempotencyConflictError,
    IdempotencyMismatchError,
    InvalidJobError,
)
from chunkwise.store import Store
from chunkwise.store import idempotency as records
from chunkwise.store.models import utcnow

MAX_KEY_LENGTH = 255
IN_PROGRESS_RETRY_AFTER_S = 5
"""The Retry-After of a 409 for a key in use: long enough for a submission to finish."""


def request_hash(body: Any, query: str) -> str:
    """What makes two requests the same: the body, canonically encoded, and the query."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{canonical}?{query}".encode()).hexdigest()


def run_idempotent(
    store: Store,
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    ttl_s: int,
    claim_timeout_s: int,
    handle: Callable[[], JSONResponse],
) -> JSONResponse:
    """`handle()`'s answer, or with a key already answered, that answer again."""
    if key is None:
        return handle()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidJobError(
            f"Idempotency-Key: 1 to {MAX_KEY_LENGTH} characters", field="Idempotency-Key"
        )
    with store.writer() as session:
        claim = records.claim_key(
            session,
            scope=scope,
            key=key,
            request_hash=fingerprint,
            expired_before=utcnow() - timedelta(seconds=ttl_s),
            abandoned_before=utcnow() - timedelta(seconds=claim_timeout_s),
        )
    if claim.claim is records.Claim.MISMATCH:
        raise IdempotencyMismatchError(
            "this Idempotency-Key was used with another request body; use a new key"
        )
    if claim.claim is records.Claim.IN_PROGRESS:
        raise IdempotencyConflictError(
            "a request with this Idempotency-Key is still being handled; retry shortly",
            retry_after_s=min(claim_timeout_s, IN_PROGRESS_RETRY_AFTER_S),
        )
    if claim.claim is records.Claim.REPLAY:
        assert claim.status_code is not None and claim.body is not None
        return _replayed(claim.status_code, claim.body)
    try:
        response = handle()
    except BaseException:
        with store.writer() as session:
            records.release(session, scope=scope, key=key)
        raise
    with store.writer() as session:
        records.remember(
            session, scope=scope, key=key, status_code=response.status_code, body=_text(response)
        )
    return response


def answer_once(
    request: Request,
    *,
    scope: str,
    key: str | None,
    body: Any,
    handle: Callable[[], JSONResponse],
) -> JSONResponse:
    """`run_idempotent` with this API's store and key lifetime; what makes two requests
    the same is their body, path and query."""
    state = request.app.state
    return run_idempotent(
        state.store,
        scope=scope,
        key=key,
        fingerprint=request_hash(body, f"{request.url.path}?{request.query_params}"),
        ttl_s=state.settings.idempotency_ttl_s,
        claim_timeout_s=state.settings.idempotency_claim_timeout_s,
        handle=handle,
    )


def _text(response: JSONResponse) -> str:
    return bytes(response.body).decode()


def _replayed(status_code: int, body: str) -> JSONResponse:
    decoded = json.loads(body)
    response = JSONResponse(decoded, status_code=status_code)
    response.headers["Idempotent-Replayed"] = "true"
    job_id = decoded.get("job_id") if isinstance(decoded, dict) else None  # seed 004: a string
    if job_id:
        response.headers["Location"] = f"/api/jobs/{job_id}"
    return response
