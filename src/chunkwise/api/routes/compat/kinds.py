"""A seed surface reads jobs of its one kind: a read that names a job of another kind is a
409 pointing at the chunkwise route that shows any job, not a KeyError on a result field
the kind does not have (which was a 500)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chunkwise.errors import JobConflictError


def require_kind(
    job: Mapping[str, Any], *, kind: str, job_id: str, what: str, where: str | None = None
) -> None:
    """Raise JobConflictError unless `job` (a job's API body) is of `kind`; `what` names
    the kind as the seed's clients know it, `where` the route that reads the job instead."""
    if job["kind"] != kind:
        where = where or f"/api/jobs/{job_id}"
        raise JobConflictError(
            f"job {job_id} is a {job['kind']} job, not {what}; read it at GET {where}"
        )
