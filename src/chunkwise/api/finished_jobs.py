"""Finished jobs never change, so the API reads each from the store once and lets clients
keep it too.

A job that has ended (SUCCESS, FAILURE or CANCELLED) keeps its state, counts and result
until retention removes it, RESULT_TTL_S after it finished; only its disappearance is left
to happen. So GET /api/jobs/{id} of an ended job is answered from `FinishedJobCache`, the
encoded bodies of recently read ended jobs, bounded and least recently used first out
(CHUNKWISE_FINISHED_CACHE_ENTRIES), without a store read, a model or an encoder.

Each body carries a strong `ETag` (its hash) and a `Cache-Control` with a `max-age`, so a
client or its browser re-uses it, or asks with `If-None-Match` and gets a 304 with no
body. Neither the API nor a client may go on serving a body once the job may be gone:
a body is fresh until the job's expiry (finished_at + RESULT_TTL_S) and for at most
`MAX_FRESH_S` after it was read, whichever comes first. The second bound keeps a
shortened RESULT_TTL_S, or a job deleted by other means, from being served from memory
for days. The cache is `private`: the API has no authentication of its own, and a
deployment that puts one in front must not have a shared proxy hand one user's result
to another.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from starlette.responses import Response

from chunkwise.api.conditional import etag_of, validated_response

MAX_FRESH_S = 3600.0
"""The longest a body read from the store is served without reading the store again."""

UNFINISHED_CACHE_CONTROL = "no-store"
"""A running job changes with every recorded chunk: no copy of it is worth keeping."""


@dataclass(frozen=True, slots=True)
class FinishedBody:
    """An ended job's encoded body, its ETag, and until when (epoch seconds) it is fresh."""

    body: bytes
    etag: str
    fresh_until: float
    owner_id: uuid.UUID | None = None
    """Whose job it is: a cached answer is checked against the caller like a stored one."""
    demo: bool = False

    def cache_control(self, now: float) -> str:
        """Cache-Control for a response sent at `now`: reusable for the freshness left."""
        max_age = max(0, math.floor(self.fresh_until - now))
        return f"private, max-age={max_age}, immutable"

    def response(self, *, now: float, if_none_match: str | None) -> Response:
        return validated_response(
            self.body,
            etag=self.etag,
            cache_control=self.cache_control(now),
            if_none_match=if_none_match,
        )


def finished_body(
    body: bytes,
    *,
    expires_at: float,
    now: float,
    owner_id: uuid.UUID | None = None,
    demo: bool = False,
) -> FinishedBody:
    """`body` of a job that ended and expires at `expires_at`, read from the store at `now`."""
    return FinishedBody(body, etag_of(body), min(expires_at, now + MAX_FRESH_S), owner_id, demo)


class FinishedJobCache:
    """The bodies of up to `max_entries` ended jobs by id, least recently used out first.

    Used from the event loop's thread only, so it needs no lock. `max_entries` 0 keeps
    nothing.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._bodies: OrderedDict[uuid.UUID, FinishedBody] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, job_id: uuid.UUID, *, now: float) -> FinishedBody | None:
        """The job's body while it is fresh at `now`; a stale one is dropped."""
        cached = self._bodies.get(job_id)
        if cached is None:
            return None
        if cached.fresh_until <= now:
            del self._bodies[job_id]
            return None
        self._bodies.move_to_end(job_id)
        return cached

    def put(self, job_id: uuid.UUID, body: FinishedBody) -> None:
        if self.max_entries == 0:
            return
        self._bodies[job_id] = body
        self._bodies.move_to_end(job_id)
        while len(self._bodies) > self.max_entries:
            self._bodies.popitem(last=False)
