"""The API's request and response bodies, separate from the store's models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JobCreate(BaseModel):
    """A job request: which workload kind, its parameters, and how many chunks."""

    model_config = ConfigDict(
        extra="forbid",
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


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    status: str = Field(description="The job's state when accepted: PENDING.")


class Progress(BaseModel):
    completed: int = Field(description="Chunks whose partial result is recorded.")
    total: int
    cached: int = Field(default=0, description="Recorded chunks served wholly from the cache.")


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
    missing: list[Literal["database", "broker", "workers"]] = Field(
        description="What keeps the service from running jobs now."
    )


class ErrorBody(BaseModel):
    detail: str
    field: str | None = None
