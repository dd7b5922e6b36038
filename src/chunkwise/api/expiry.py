"""Words for a job that is gone: what the API says when retention has removed a job."""

from __future__ import annotations

from datetime import UTC

from chunkwise.store.models import ExpiredJob


def describe_expiry(tombstone: ExpiredJob, *, result_ttl_s: float) -> str:
    """Why a job is gone, for the API's 404."""
    when = tombstone.expired_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"job {tombstone.id} expired on {when}: finished jobs are kept for "
        f"{describe_duration(result_ttl_s)} (CHUNKWISE_RESULT_TTL_S)"
    )


def describe_duration(seconds: float) -> str:
    """A duration in the largest whole unit that fits: '7 days', '90 minutes', '1.5 seconds'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    value = f"{seconds:g}"
    return f"{value} second{'' if value == '1' else 's'}"
