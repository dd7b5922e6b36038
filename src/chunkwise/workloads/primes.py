"""prime_count: how many primes are <= n, by sieving or by counting.

Two methods. `sieve` counts the primes of contiguous ranges of 1..n, one a chunk, with the
segmented sieve of `prime_kernels` (cached per block of the number line): every number up
to n is touched, which is as fast as anything for small n and is the cross-check. The
`combinatorial` method (`prime_counting`: Lagarias-Miller-Odlyzko with Deleglise-Rivat's
segmented sieve) touches only the numbers up to about n^(2/3), so it wins by orders of
magnitude as n grows; its chunks are ranges of that smaller interval. `auto` picks by n.

The kernels are imported inside `run_chunk` and `warm_up` only, so that validating
parameters (all the API does with a kind) does not load numba.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from chunkwise.workloads.base import Chunk, Partial, Piece, Workload, contiguous_ranges
from chunkwise.workloads.limits import Limit, bounded_by

PRIME_COUNT_MIN_N = 10_000
MAX_N = Limit(
    name="prime_count_max_n",
    default=10**17,
    description="Largest n a prime_count job may ask for.",
    minimum=PRIME_COUNT_MIN_N,
)
SIEVE_MAX_N = Limit(
    name="prime_count_sieve_max_n",
    default=10**13,
    description="Largest n prime_count may sieve (method sieve): an hour of one core at "
    "the default.",
    minimum=PRIME_COUNT_MIN_N,
)
COMBINATORIAL_FROM = 10**8
"""`auto` counts combinatorially from here: below it the sieve takes a few milliseconds
whatever the method, and its blocks go to the chunk cache (measured by bench/kernels.py)."""
Method = Literal["auto", "sieve", "combinatorial"]
CACHE_BLOCK_BITS = 24
CACHE_BLOCK = 1 << CACHE_BLOCK_BITS
"""The cache grid: blocks [b * 2^24, (b + 1) * 2^24), a few milliseconds of sieving each."""


class PrimeCountParams(BaseModel):
    """Parameters of a prime_count job."""

    model_config = ConfigDict(extra="forbid", strict=True)

    n: Annotated[int, bounded_by(MAX_N)] = Field(
        ge=PRIME_COUNT_MIN_N, description="Count the primes <= n."
    )
    method: Method = Field(
        default="auto",
        description="sieve: count every range of 1..n by sieving (n up to "
        "PRIME_COUNT_SIEVE_MAX_N); combinatorial: Lagarias-Miller-Odlyzko, touching numbers "
        f"up to about n^(2/3) only; auto: sieve below {COMBINATORIAL_FROM:,}, else "
        "combinatorial.",
    )

    @model_validator(mode="after")
    def _sieve_within_its_bound(self, info: ValidationInfo) -> PrimeCountParams:
        bound = int((info.context or {}).get(SIEVE_MAX_N.name, SIEVE_MAX_N.default))
        if self.method == "sieve" and self.n > bound:
            raise ValueError(
                f"method sieve counts up to n = {bound}; use method combinatorial or auto "
                "for larger n"
            )
        return self

    @property
    def resolved_method(self) -> Literal["sieve", "combinatorial"]:
        if self.method == "auto":
            return "combinatorial" if self.n >= COMBINATORIAL_FROM else "sieve"
        return self.method


class PrimeCount(Workload[PrimeCountParams]):
    """pi(n): each chunk counts the primes in its own contiguous range of 1..n."""

    kind = "prime_count"
    title = "Count primes"
    description = "Count the primes <= n."
    params_model = PrimeCountParams
    limits = (MAX_N, SIEVE_MAX_N)

    def complete_params(self, params: PrimeCountParams) -> PrimeCountParams:
        """`auto` becomes the method it picks, so the job says how it was counted."""
        return params.model_copy(update={"method": params.resolved_method})

    def split(self, params: PrimeCountParams, chunks: int) -> list[Chunk]:
        if params.resolved_method == "combinatorial":
            from chunkwise.workloads.prime_counting import Plan, range_work, split_ranges

            plan = Plan.for_x(params.n)
            return [
                {
                    "method": "combinatorial",
                    "n": params.n,
                    "lo": lo,
                    "hi": hi,
                    "work": round(range_work(plan, lo, hi), 6),
                }
                for lo, hi in split_ranges(plan, chunks)
            ]
        return self._sieve_ranges(params, chunks)

    def _sieve_ranges(self, params: PrimeCountParams, chunks: int) -> list[Chunk]:
        """Contiguous ranges of 1..n; when every chunk can hold a whole cache block, the
        boundaries fall on the block grid so that later jobs reuse the blocks."""
        blocks = (params.n + 1) // CACHE_BLOCK
        if blocks < chunks:
            return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(1, params.n, chunks)]
        groups = contiguous_ranges(0, blocks - 1, chunks)
        specs = [
            {"lo": first * CACHE_BLOCK, "hi": (last + 1) * CACHE_BLOCK - 1}
            for first, last in groups
        ]
        specs[0]["lo"] = 1
        specs[-1]["hi"] = params.n
        return specs

    def run_chunk(self, chunk: Chunk) -> Partial:
        if chunk.get("method") == "combinatorial":
            from chunkwise.workloads.prime_counting import count_range

            lo, hi = int(chunk["lo"]), int(chunk["hi"])
            return count_range(int(chunk["n"]), lo, hi, first=lo == 1)

        from chunkwise.workloads.prime_kernels import count_primes_between

        return count_primes_between(int(chunk["lo"]), int(chunk["hi"]))

    def chunk_work(self, chunk: Chunk) -> float:
        """A combinatorial chunk's estimated share (leaves are dense early); a sieved
        range's length."""
        if chunk.get("method") == "combinatorial":
            return float(chunk.get("work", 1.0))
        return float(int(chunk["hi"]) - int(chunk["lo"]) + 1)

    def cache_pieces(self, chunk: Chunk) -> list[Piece]:
        """Whole grid blocks are keyed; the ragged ends are computed directly.

        0 and 1 are not prime, so a chunk starting at 1 covers block 0 whole.
        """
        if chunk.get("method") == "combinatorial":  # no grid to cache by: computed whole
            return [Piece(None, chunk)]
        lo, hi = int(chunk["lo"]), int(chunk["hi"])
        lo = 0 if lo <= 1 else lo
        pieces: list[Piece] = []
        first_block = -(-lo // CACHE_BLOCK)
        last_block = (hi + 1) // CACHE_BLOCK - 1
        if first_block > last_block:
            return [Piece(None, {"lo": lo, "hi": hi})]
        if lo < first_block * CACHE_BLOCK:
            pieces.append(Piece(None, {"lo": lo, "hi": first_block * CACHE_BLOCK - 1}))
        for block in range(first_block, last_block + 1):
            span = {"lo": block * CACHE_BLOCK, "hi": (block + 1) * CACHE_BLOCK - 1}
            pieces.append(Piece(f"{self.kind}:2^{CACHE_BLOCK_BITS}:{block}", span))
        if (last_block + 1) * CACHE_BLOCK <= hi:
            pieces.append(Piece(None, {"lo": (last_block + 1) * CACHE_BLOCK, "hi": hi}))
        return pieces

    def merge_pieces(self, partials: Sequence[Partial]) -> Partial:
        if len(partials) == 1:
            return partials[0]
        return sum(int(partial) for partial in partials)

    def combine(self, params: PrimeCountParams, partials: Sequence[Partial]) -> dict[str, Any]:
        if params.resolved_method == "combinatorial":
            from chunkwise.workloads.prime_counting import combine_ranges

            count = combine_ranges(params.n, [dict(partial) for partial in partials])
            return {"prime_count": count, "method": "combinatorial"}
        return {"prime_count": sum(int(partial) for partial in partials), "method": "sieve"}

    def warm_up(self) -> None:
        from chunkwise.workloads.prime_counting import warm_up_counting
        from chunkwise.workloads.prime_kernels import warm_up_sieve

        warm_up_sieve()
        warm_up_counting()
