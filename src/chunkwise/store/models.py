"""The job store's tables: jobs, their chunks, and the workers that compute them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class JobState(StrEnum):
    """Where a job is in its life."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCESS, JobState.FAILURE, JobState.CANCELLED})
UNFINISHED_STATES = frozenset(JobState) - TERMINAL_STATES

_STATE_AS_TEXT = Enum(
    JobState,
    native_enum=False,
    create_constraint=False,
    length=16,
    values_callable=lambda states: [state.value for state in states],
)
"""A job's state as the VARCHAR(16) of its name ('PENDING', ...) on every backend, as the
column has always been, so existing databases read and write it unchanged; Python sees a
JobState."""


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as text, so no backend reinterprets it.

    SQLite gives a column declared JSON numeric affinity: a bare integer partial such as
    10**40 would come back as a float. Python `None` is SQL NULL.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONText,
    }


class Job(Base):
    """One submitted job. `completed_chunks` moves only with a chunk's first recording."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    state: Mapped[JobState] = mapped_column(_STATE_AS_TEXT, default=JobState.PENDING)
    total_chunks: Mapped[int] = mapped_column(Integer)
    completed_chunks: Mapped[int] = mapped_column(Integer, default=0)
    cached_chunks: Mapped[int] = mapped_column(Integer, default=0)
    """Recorded chunks whose every piece came from the chunk cache."""
    use_cache: Mapped[bool] = mapped_column(Boolean, default=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONText, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    """The user who submitted it; None when accounts are off, or for a demo job."""
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    """Submitted through the demo endpoints: only they show it."""
    priority: Mapped[str | None] = mapped_column(String(8), default=None)
    """high, medium or low: the message priority of its chunks (None: medium)."""
    callback_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    """Where the job's final view is POSTed once it ends (a webhook delivery)."""

    # ix_jobs_state: admission counts the unfinished jobs on every submit; the index keeps
    # that to the few unfinished rows, however many finished ones the table holds.
    __table_args__ = (Index("ix_jobs_created_at", "created_at"), Index("ix_jobs_state", "state"))


class Chunk(Base):
    """One chunk of a job: its description, and once computed, its partial and who made it."""

    __tablename__ = "chunks"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column("idx", Integer, primary_key=True)
    spec: Mapped[dict[str, Any]]
    partial: Mapped[Any] = mapped_column(JSONText, nullable=True, default=None)
    worker: Mapped[str | None] = mapped_column(String(255), default=None)
    """Who recorded it; until then, the worker that started it last (the reaper takes back
    a dead worker's chunks by it)."""
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    """When a worker last started computing the chunk (each delivery sets it again)."""
    finished_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    """When its partial was recorded; indexed for the chunks-per-second of the last minute."""
    cache_hits: Mapped[int] = mapped_column(Integer, default=0)
    """Pieces of this chunk taken from the chunk cache instead of computed."""
    item_count: Mapped[int | None] = mapped_column(Integer, default=None)
    """Result items in the partial (kinds whose result is a long list), so a page of the
    result finds its chunks without reading the others' partials."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Times a worker started computing this chunk: every delivery counts, so a chunk that
    kills its worker or can never be recorded stops at CHUNK_MAX_ATTEMPTS."""


class CacheEntry(Base):
    """A computed piece's partial, by content key (kind and grid block), for any job."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Worker(Base):
    """A worker process that said it was alive at `heartbeat_at`, holding `holding`.

    The row is the lease on the chunks it holds: while the worker heartbeats they are
    its own; once it falls silent, another worker re-publishes them.
    """

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    holding: Mapped[Any] = mapped_column(JSONText, nullable=True, default=None)
    """Chunk task ids (job:index) received and not yet finished."""
    processes: Mapped[int] = mapped_column(Integer, default=1)
    """Pool processes computing chunks on this worker node."""
    kinds: Mapped[Any] = mapped_column(JSONText, nullable=True, default=None)
    """The workload kinds this node can run, as its heartbeat last said (None: a node of
    a release that did not say)."""


class WebhookDelivery(Base):
    """The completion webhook of one job: what is sent, and where delivery stands.

    The row is made with the job (state `waiting`), so a worker finds the deliveries that
    are due among a few rows, never by scanning the jobs. Its id is the
    `X-Chunkwise-Delivery` header of every attempt, so a receiver that got an attempt
    whose answer was lost can drop the retry; the body is fixed once the job has ended, so
    every attempt sends the same signed bytes.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str | None] = mapped_column(Text, default=None)
    """The job's final view as sent (None while the job runs)."""
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    """waiting (the job runs), pending (an attempt is due at `next_attempt_at`), delivered,
    or failed (attempts used up, or the retry window closed)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    """While an attempt is under way: no other sender takes the delivery before then."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    """When its job ended: the retry window runs from here."""
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    """When it was delivered or given up."""

    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)


class WebhookAttempt(Base):
    """One POST of a webhook delivery, and how it went."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    """The receiver's HTTP status, or None when no answer came."""
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    """Why the attempt did not count as delivered (None once it did)."""


class ExpiredJob(Base):
    """What is left of a finished job once its retention ran out: enough to say so."""

    __tablename__ = "expired_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    expired_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The job's owner, so its tombstone is as private as the job was."""
    demo: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_expired_jobs_expired_at", "expired_at"),)


class User(Base):
    """An account. The first one registered is an admin, who sees every job."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Kept lower-cased, so one address is one account however it is typed."""
    password_hash: Mapped[str] = mapped_column(String(255))
    """Argon2id, with its salt and parameters (never the password)."""
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    """Moves on with each password change and admin revoke. An access token carries the
    value it was signed under and any other is refused: every session ends at once."""


class EndedSession(Base):
    """A signed-out session whose access token has not expired yet: refused until then,
    and forgotten after."""

    __tablename__ = "ended_sessions"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """The token's `sid` claim: 128 random bits, in hex."""
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """A long-lived token a user made for scripts; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the token: the token has 256 random bits, so no salt or slow hash is
    needed, and a lookup is one indexed read."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class IdempotencyRecord(Base):
    """A job request made with an Idempotency-Key, and once handled, its answer."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(320), primary_key=True)
    """Whose key: "user:<id>", or "ip:<address>" on the demo endpoints."""
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    """None while the first request with this key is being handled."""
    body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CompatRequest(Base):
    """A seed surface's request, by what it asked, and the job that answers it."""

    __tablename__ = "compat_requests"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CompatTask(Base):
    """Seed 003's integer task id for a job: its clients read `data.task_id` as a number."""

    __tablename__ = "compat_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(index=True)
    task_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Outside the Job class so retention's sweep finds expired jobs by a range scan.
Index("ix_jobs_finished_at", Job.finished_at)


class KeptSecret(Base):
    """A key the deployment made for itself once (the access-token signing key, the
    webhook signing key), kept here so that every API replica and worker shares it."""

    __tablename__ = "kept_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
