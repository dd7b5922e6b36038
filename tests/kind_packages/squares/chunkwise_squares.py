"""`sum_of_squares`: 1² + 2² + … + n², as a package of its own.

The kind docs/workloads.md walks through: registered under the `chunkwise.workloads`
entry-point group of its distribution (pyproject.toml), so a chunkwise API or worker that
has this package installed runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chunkwise.workloads import Chunk, Limit, Partial, Workload, bounded_by
from chunkwise.workloads.base import contiguous_ranges

MAX_N = Limit(
    name="sum_of_squares_max_n",
    default=100_000,
    description="The largest n of a sum_of_squares job; its sum stays below 2**53, "
    "which every JSON reader holds exactly.",
)


class SquaresParams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    n: Annotated[int, Field(ge=1, description="Add the squares of 1..n."), bounded_by(MAX_N)]


class SumOfSquares(Workload[SquaresParams]):
    """Each chunk adds the squares of one contiguous range of 1..n."""

    kind = "sum_of_squares"
    title = "Sum of squares"
    description = "1² + 2² + … + n², added up square by square."
    params_model = SquaresParams
    limits = (MAX_N,)

    def split(self, params: SquaresParams, chunks: int) -> list[Chunk]:
        return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(1, params.n, chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        return sum(k * k for k in range(chunk["lo"], chunk["hi"] + 1))

    def combine(self, params: SquaresParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"sum": sum(partials)}
