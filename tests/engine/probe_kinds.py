"""Workload kinds whose behaviour the engine's tests choose: `scripted` does what its job's
parameters say (compute, lose a connection, run out of time), `pieced` is assembled from
cacheable pieces. Each remembers what it computed. The `probe_kinds` fixture
(tests/engine/conftest.py) registers them for one test only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel

from chunkwise.store import Store, jobs
from chunkwise.workloads import registry
from chunkwise.workloads.base import Chunk, Partial, Piece, Workload

Behaviour = Literal["compute", "lose_connection", "run_out_of_time"]


class Recording:
    """A probe kind remembers the chunk indices or blocks it computed, in order."""

    def __init__(self) -> None:
        self.computed: list[int] = []


class ScriptedParams(BaseModel):
    does: Behaviour = "compute"


class Scripted(Recording, Workload[ScriptedParams]):
    """Chunk i computes i + 1, unless the job says otherwise; the result is the total."""

    kind = "scripted"
    description = "Engine tests: does what its parameters say."
    params_model = ScriptedParams

    def split(self, params: ScriptedParams, chunks: int) -> list[Chunk]:
        return [{"index": index, "does": params.does} for index in range(chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        self.computed.append(chunk["index"])
        if chunk["does"] == "lose_connection":
            raise ConnectionError("peer went away")
        if chunk["does"] == "run_out_of_time":
            raise SoftTimeLimitExceeded()  # what Celery raises in a chunk past its soft limit
        return chunk["index"] + 1

    def combine(self, params: ScriptedParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"total": sum(partials)}


class PiecedParams(BaseModel):
    blocks: list[int]


class Pieced(Recording, Workload[PiecedParams]):
    """Squares of blocks, summed; each block is a cacheable piece keyed by its number."""

    kind = "pieced"
    description = "Engine tests: chunks made of cacheable pieces."
    params_model = PiecedParams

    def split(self, params: PiecedParams, chunks: int) -> list[Chunk]:
        size = -(-len(params.blocks) // chunks)
        return [
            {"blocks": params.blocks[at : at + size]} for at in range(0, len(params.blocks), size)
        ]

    def cache_pieces(self, chunk: Chunk) -> list[Piece]:
        return [Piece(f"pieced:{block}", {"blocks": [block]}) for block in chunk["blocks"]]

    def merge_pieces(self, partials: Sequence[Partial]) -> Partial:
        return sum(partials)

    def run_chunk(self, chunk: Chunk) -> Partial:
        self.computed.extend(chunk["blocks"])
        return sum(block * block for block in chunk["blocks"])

    def combine(self, params: PiecedParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"total": sum(partials)}


@dataclass(frozen=True)
class ProbeKinds:
    scripted: Scripted
    pieced: Pieced


def store_job(
    store: Store, kind: str, params: dict[str, Any], chunks: int, *, use_cache: bool = True
) -> uuid.UUID:
    """A job of a probe kind, stored as `submit_job` would store it, and not published."""
    workload = registry.get_workload(kind)
    specs = workload.split(workload.params_model.model_validate(params), chunks)
    with store.writer() as session:
        job = jobs.create_job(session, kind=kind, params=params, specs=specs, use_cache=use_cache)
        return job.id
