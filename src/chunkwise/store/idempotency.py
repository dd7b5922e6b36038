"""Idempotency keys for job creation, after the IETF draft "The Idempotency-Key HTTP Header
Field": the first request with a key claims it; a repeat with the same body gets the first
answer again; a repeat with another body, or one that arrives while the first is still
being handled, is told so. A claim is one INSERT, so two racing requests cannot both win.
Keys past IDEMPOTENCY_TTL_S are forgotten by a worker duty (`purge_expired_keys`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chunkwise.store.db import Store
from chunkwise.store.models import IdempotencyRecord
from chunkwise.store.writes import insert_ignoring_conflicts, rows_changed

log = logging.getLogger(__name__)


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


def purge_expired(session: Session, *, expired_before: datetime, limit: int | None = None) -> int:
    """Forget the records older than `expired_before`, about the `limit` oldest of them if
    given (records made at the same instant go together); returns how many."""
    older = IdempotencyRecord.created_at < expired_before
    if limit is not None:
        last = session.scalar(
            select(IdempotencyRecord.created_at)
            .where(older)
            .order_by(IdempotencyRecord.created_at)
            .offset(limit - 1)
            .limit(1)
        )
        if last is not None:
            older = older & (IdempotencyRecord.created_at <= last)
    return rows_changed(session.execute(delete(IdempotencyRecord).where(older)))


PURGE_BATCH = 1_000
"""Keys forgotten per transaction, so a purge never holds the write lock for long."""
MAX_PURGE_BATCHES = 20
"""A purge stops after this many batches; the next one carries on."""


def purge_expired_keys(store: Store, *, ttl_s: float) -> int:
    """The worker duty: forget keys older than `ttl_s` (IDEMPOTENCY_TTL_S), which a repeat
    would no longer find anyway (`claim_key` skips them), in short transactions; returns
    how many. Every node may run it at once: a delete of what another deleted is a no-op.
    """
    expired_before = datetime.now(UTC) - timedelta(seconds=ttl_s)
    total = 0
    for _ in range(MAX_PURGE_BATCHES):
        with store.writer() as session:
            removed = purge_expired(session, expired_before=expired_before, limit=PURGE_BATCH)
        total += removed
        if removed < PURGE_BATCH:
            break
    if total:
        log.info("forgot %d expired idempotency key(s)", total)
    return total
