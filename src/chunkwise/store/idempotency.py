"""Idempotency keys for job creation, after the IETF draft "The Idempotency-Key HTTP Header
Field": the first request with a key claims it; a repeat with the same body gets the first
answer again; a repeat with another body, or one that arrives while the first is still
being handled, is told so. A claim is one INSERT, so two racing requests cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chunkwise.store.models import IdempotencyRecord
from chunkwise.store.writes import insert_ignoring_conflicts, rows_changed


class Claim(StrEnum):
    NEW = "new"
    """This request is the first with the key: handle it, then `remember` its answer."""
    REPLAY = "replay"
    """Answered before, for the same body: send that answer again."""
    IN_PROGRESS = "in_progress"
    """The first request with the key is still being handled."""
    MISMATCH = "mismatch"
    """The key was used with another body."""


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    status_code: int | None = None
    body: str | None = None


def claim_key(
    session: Session,
    *,
    scope: str,
    key: str,
    request_hash: str,
    expired_before: datetime,
    abandoned_before: datetime,
) -> ClaimResult:
    """Claim `key` in `scope` for a request whose body hashes to `request_hash`.

    A record older than `expired_before` is forgotten first. A claim still unanswered
    since before `abandoned_before` was left by an API process that died handling it, and
    is taken over (one UPDATE, so of two retries only one wins). Commit right after, so a
    racing request sees the claim.
    """
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < expired_before,
        )
    )
    insert = insert_ignoring_conflicts(IdempotencyRecord, session.get_bind().dialect.name)
    claimed = session.execute(insert.values(scope=scope, key=key, request_hash=request_hash))
    if rows_changed(claimed) == 1:
        return ClaimResult(Claim.NEW)
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is None:  # pragma: no cover - deleted between our insert and read
        return ClaimResult(Claim.IN_PROGRESS)
    if record.request_hash != request_hash:
        return ClaimResult(Claim.MISMATCH)
    if record.status_code is None:
        taken_over = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
                IdempotencyRecord.status_code.is_(None),
                IdempotencyRecord.created_at < abandoned_before,
            )
            .values(created_at=datetime.now(UTC))
        )
        return ClaimResult(Claim.NEW if rows_changed(taken_over) == 1 else Claim.IN_PROGRESS)
    return ClaimResult(Claim.REPLAY, record.status_code, record.body)


def remember(session: Session, *, scope: str, key: str, status_code: int, body: str) -> None:
    """Keep the answer to the request that claimed `key`."""
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(status_code=status_code, body=body)
    )


def release(session: Session, *, scope: str, key: str) -> None:
    """Give up a claim whose request failed before it had an answer worth repeating, so
    the client may try again with the same key."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
            IdempotencyRecord.status_code.is_(None),
        )
    )


def purge_expired(session: Session, *, expired_before: datetime) -> int:
    """Forget every record older than `expired_before`; returns how many."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < expired_before)
    )
    return rows_changed(result)
