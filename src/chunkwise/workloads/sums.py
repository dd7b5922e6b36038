"""sum_range: the exact sum of the integers 1..n, split into contiguous ranges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges


class SumRangeParams(BaseModel):
    """Parameters of a sum_range job."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1, description="Sum the integers 1..n.")


def range_sum(lo: int, hi: int) -> int:
    """Sum of the integers lo..hi (0 for an empty range), exact at any size."""
    if hi < lo:
        return 0
    return (lo + hi) * (hi - lo + 1) // 2


class SumRange(Workload[SumRangeParams]):
    """Sum of 1..n; each chunk sums its own range in closed form."""

    kind = "sum_range"
    description = "Exact sum of the integers 1..n."
    params_model = SumRangeParams

    def split(self, params: SumRangeParams, chunks: int) -> list[Chunk]:
        return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(1, params.n, chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        return range_sum(int(chunk["lo"]), int(chunk["hi"]))

    def combine(self, params: SumRangeParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"sum": sum(int(partial) for partial in partials)}
