"""The API's request and response bodies, apart from the store's models so the wire format
does not follow the tables. The Python client decodes answers into the same models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JobCreate(BaseModel):
    """A job request: which workload kind, its parameters, and how many chunks."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # a number is a JSON number: `"chunks": true` or `"4"` is a 400
        json_schema_extra={
            "examples": [{"kind": "prime_count", "params": {"n": 200000}, "chunks": 16}]
        },
    )

    kind: str = Field(description="Workload kind, e.g. prime_count or sum_range.", max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, description="The kind's parameters.")
    chunks: int = Field(
        default=8,
        ge=1,
        description="How many chunks to split into; at most CHUNKWISE_MAX_CHUNKS (128 unless "
        "configured), which the service checks.",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="An http(s) URL to POST the job's final view to when it ends (a signed "
        "completion webhook, retried until a 2xx answer).",
    )


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    status: str = Field(description="The job's state when accepted: PENDING.")


class Progress(BaseModel):
    completed: int = Field(description="Chunks whose partial result is recorded.")
    total: int
    cached: int = Field(default=0, description="Recorded chunks served wholly from the cache.")


class WebhookAttemptView(BaseModel):
    number: int
    at: datetime = Field(description="When the attempt started.")
    duration_ms: float
    status_code: int | None = Field(description="The receiver's answer; null when none came.")
    error: str | None = Field(description="Why it did not count as delivered; null if it did.")


class WebhookView(BaseModel):
    """A job's completion webhook: where it goes and how delivery went."""

    delivery_id: uuid.UUID = Field(description="The X-Chunkwise-Delivery header of every attempt.")
    url: str
    state: Literal["waiting", "pending", "delivered", "failed"] = Field(
        description="waiting: the job runs; pending: an attempt is due at next_attempt_at; "
        "delivered: a 2xx answer came; failed: attempts or the retry window ran out."
    )
    next_attempt_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: list[WebhookAttemptView] = Field(default_factory=list)


class JobView(BaseModel):
    """A job as the API shows it."""

    job_id: uuid.UUID
    kind: str
    params: dict[str, Any]
    state: Literal["PENDING", "STARTED", "PROGRESS", "SUCCESS", "FAILURE", "CANCELLED"]
    progress: Progress
    cache: bool = Field(default=True, description="Whether the job may reuse cached pieces.")
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_sec: float = Field(description="Seconds from submission to the end, or so far.")
    callback_url: str | None = Field(
        default=None, description="Where the job's final view is POSTed when it ends."
    )
    webhook: WebhookView | None = Field(
        default=None,
        description="Its completion webhook's delivery and attempts (GET /api/jobs/{id} only; "
        "lists leave it null).",
    )


class JobPage(BaseModel):
    items: list[JobView]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page, or null at the end.")


class ResultPage(BaseModel):
    """A page of a job's result items (the primes of a prime_list job), in order."""

    job_id: uuid.UUID
    total: int = Field(description="Items in the whole result.")
    offset: int
    limit: int
    items: list[int]
    next_offset: int | None = Field(description="Offset of the next page, or null at the end.")


class ChunkBounds(BaseModel):
    minimum: int = 1
    maximum: int = Field(description="CHUNKWISE_MAX_CHUNKS on this service.")
    default: int


class WorkloadKind(BaseModel):
    kind: str
    title: str = Field(description="A short name for people.")
    description: str
    params_schema: dict[str, Any] = Field(
        description="JSON schema of the parameters, with this service's maxima in it."
    )
    limits: dict[str, int] = Field(
        default_factory=dict,
        description="This service's bounds on the parameters, by name (CHUNKWISE_<NAME>).",
    )
    chunks: ChunkBounds
    package: str | None = Field(
        default=None,
        description="Where the kind comes from: `chunkwise` for the built-in kinds, else the "
        "distribution (or module) that declares it. None from a service that does not say.",
    )
    workers: int | None = Field(
        default=None,
        description="How many live worker nodes run the kind. A kind from another package is "
        "listed only while at least one does. None from a service that does not say.",
    )


ChunkState = Literal["pending", "running", "done"]


class ChunkView(BaseModel):
    """One chunk of a job, for the chunk map."""

    index: int
    state: ChunkState = Field(
        description="pending: not started; running: started and not recorded while the job "
        "runs; done: its partial is recorded."
    )
    worker: str | None = Field(
        description="The worker whose lease holds it (running) or that recorded it (done)."
    )
    attempts: int = Field(description="Times a worker started it.")
    started_at: datetime | None
    finished_at: datetime | None
    duration_sec: float | None = Field(description="From its last start to its record.")
    cache_hits: int = Field(description="Pieces taken from the chunk cache.")
    cached: bool = Field(description="Whether pieces of it came from the chunk cache.")


class ChunkList(BaseModel):
    job_id: uuid.UUID
    total: int
    items: list[ChunkView]


class WorkerView(BaseModel):
    name: str
    host: str
    concurrency: int = Field(description="Pool processes computing chunks.")
    in_flight: int = Field(description="Chunks it holds now.")
    chunks_done: int = Field(description="Chunks it recorded since it started.")
    started_at: datetime
    last_heartbeat: datetime
    alive: bool


class WorkerList(BaseModel):
    items: list[WorkerView]


class JobCounts(BaseModel):
    total: int
    by_state: dict[str, int]


class Stats(BaseModel):
    jobs: JobCounts
    succeeded: int
    failed: int
    average_duration_sec: float | None = Field(
        description="Mean duration of the succeeded jobs still kept."
    )
    chunks_per_sec_last_minute: float


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    workers: int = Field(description="Worker nodes heard from recently.")
    processes: int = Field(default=0, description="Pool processes those nodes compute with.")
    broker: Literal["ok", "unreachable"]
    database: Literal["ok", "unreachable"]


class Readiness(BaseModel):
    ready: bool
    missing: list[Literal["database", "broker"]] = Field(
        description="What keeps this API from taking jobs and answering reads now."
    )
    workers: int = Field(
        description="Live worker nodes. Not needed to be ready: with none, jobs queue."
    )


class Liveness(BaseModel):
    live: Literal[True] = True


class ErrorBody(BaseModel):
    detail: str
    field: str | None = None
