"""sum_range: the exact sum of the integers a..n, split into contiguous ranges.

Python integers are exact at any size, and so are JSON numbers as Python reads and
writes them, so partials are plain integers. JavaScript reads JSON numbers as doubles,
exact only up to 2**53 - 1; beyond that the result also carries the sum as a decimal
string, `sum_str`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges, not_below

MAX_DIGITS = 1000
"""Bounds and sums stay far below Python's 4,300-digit limit on int <-> str conversion,
which JSON encoding goes through."""
MAX_SAFE_JS_INTEGER = 2**53 - 1
"""Largest integer a JavaScript number (an IEEE double) holds exactly, with all below it."""


class SumRangeParams(BaseModel):
    """Parameters of a sum_range job: {"n": 10} sums 1..10, {"a": 5, "n": 10} sums 5..10."""

    model_config = ConfigDict(extra="forbid", strict=True)

    a: int = Field(default=1, description="Sum from a (may be negative); 1 when absent.")
    n: Annotated[int, not_below("a")] = Field(ge=1, description="Sum up to n, inclusive.")

    @field_validator("a", "n")
    @classmethod
    def _few_enough_digits(cls, value: int) -> int:
        if abs(value) >= 10**MAX_DIGITS:
            raise ValueError(f"Input should have at most {MAX_DIGITS} digits")
        return value


def range_sum(lo: int, hi: int) -> int:
    """Sum of the integers lo..hi (0 for an empty range), exact at any size."""
    if hi < lo:
        return 0
    return (lo + hi) * (hi - lo + 1) // 2


def sum_result(total: int) -> dict[str, Any]:
    """The result object: `sum`, plus `sum_str` when JavaScript could not hold it exactly."""
    result: dict[str, Any] = {"sum": total}
    if abs(total) > MAX_SAFE_JS_INTEGER:
        result["sum_str"] = str(total)
    return result


class SumRange(Workload[SumRangeParams]):
    """Sum of a..n; each chunk sums its own range in closed form."""

    kind = "sum_range"
    title = "Sum of integers"
    description = "Exact sum of the integers a..n (a defaults to 1)."
    params_model = SumRangeParams

    def split(self, params: SumRangeParams, chunks: int) -> list[Chunk]:
        return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(params.a, params.n, chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        return range_sum(int(chunk["lo"]), int(chunk["hi"]))

    def combine(self, params: SumRangeParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return sum_result(sum(int(partial) for partial in partials))
