"""monte_carlo: the distribution of an investment's value after `years`, by simulation.

Model: geometric Brownian motion, dS/S = rate dt + volatility dW, stepped monthly
(dt = 1/12). Each month multiplies the value by exp((rate - volatility**2/2) dt +
volatility sqrt(dt) Z) with Z standard normal, so E[S_T] = amount * exp(rate * years):
`rate` is the expected (arithmetic) annual return, continuously compounded. Only the
terminal value is needed, so each path sums its monthly log-returns.

Reproducibility: paths are drawn in fixed blocks of BLOCK_PATHS. Block b has its own
generator, PCG64(SeedSequence(entropy=seed, spawn_key=(b,))), so a block's numbers do
not depend on which chunk draws it, and a retried chunk repeats them exactly. A chunk
is a contiguous run of blocks; it keeps one block in memory at a time, whatever
`paths` is. Each block reports its own (count, mean, M2); `combine` folds them strictly
in block order (Chan et al.'s pairwise update), and the histogram and loss counts are
integers, so the result is bit-identical for any chunk count.

Percentiles come from a fixed histogram of log(S_T / amount) with HISTOGRAM_BINS bins
over the model's mean +- 8 standard deviations (plus under/overflow counts and the exact
minimum and maximum). The reported value of a percentile is the geometric midpoint of
the bin holding the nearest-rank sample percentile, so it is within a factor
exp(+-half a bin width) of that sample percentile: the result states the largest such
relative error as `percentile_error_bound`.

The result: `paths`; `mean`, `std` (sample, ddof=1) and `standard_error` of S_T;
`expected_mean` (amount * exp(rate * years)); `percentiles` {"5", "25", "50", "75",
"95"} of S_T; `percentile_error_bound`; `probability_of_loss` (share of paths with
S_T < amount); and the `seed` used.

A job submitted without a seed gets a fresh random one (63 bits) when it is accepted:
`complete_params` draws it, and the job's stored parameters and its result show it, so
that submitting again with that seed reproduces the result exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from math import ceil, exp, sqrt
from secrets import randbits
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges
from chunkwise.workloads.limits import Limit, bounded_by

FloatArray = npt.NDArray[np.float64]

MAX_PATHS = Limit(
    name="monte_carlo_max_paths",
    default=10**8,
    description="Most paths a monte_carlo job may simulate.",
)
SEED_BITS = 63
BLOCK_PATHS = 65_536
"""Paths per generator block: fixed, since it decides which numbers each path gets."""
MONTHS_PER_DRAW = 12
"""Months of normals drawn at once: 12 x 65,536 doubles = 6 MiB per draw."""
HISTOGRAM_BINS = 4096
HISTOGRAM_SIGMAS = 8.0
"""Half-width of the histogram in model standard deviations: P(outside) ~ 1e-15."""
MIN_HALF_WIDTH = 1e-6
"""Half-width used when volatility is 0 and every path ends at the same value."""
PERCENTILES = (5, 25, 50, 75, 95)


class MonteCarloParams(BaseModel):
    """Parameters of a monte_carlo job."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    amount: float = Field(gt=0, le=1e15, description="Amount invested at the start.")
    rate: float = Field(ge=-1, le=1, description="Expected annual return, e.g. 0.05.")
    volatility: float = Field(
        default=0.2, ge=0, le=1, description="Annual volatility of returns, e.g. 0.2."
    )
    years: int = Field(default=10, ge=1, le=100, description="Investment horizon in years.")
    paths: Annotated[int, bounded_by(MAX_PATHS)] = Field(
        default=100_000, ge=1, description="Simulated paths."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        lt=2**SEED_BITS,
        description="Random seed; the same seed, the same result. When absent, the engine "
        "draws one and reports it in the job's parameters and result.",
    )


def histogram_range(rate: float, volatility: float, years: int) -> tuple[float, float]:
    """The log(S_T / amount) interval the histogram covers: the model mean +- 8 sd."""
    mean = (rate - volatility**2 / 2) * years
    half = max(HISTOGRAM_SIGMAS * volatility * sqrt(years), MIN_HALF_WIDTH)
    return mean - half, mean + half


def block_generator(seed: int, block: int) -> np.random.Generator:
    """The generator of block `block`: independent of chunking, identical on retry."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def simulate_log_returns(chunk: Chunk, block: int) -> FloatArray:
    """log(S_T / amount) for every path of one block, summing monthly log-returns."""
    block_size = int(chunk["block_size"])
    size = min(block_size, int(chunk["paths"]) - block * block_size)
    months = 12 * int(chunk["years"])
    dt = 1 / 12
    volatility = float(chunk["volatility"])
    drift = (float(chunk["rate"]) - volatility**2 / 2) * dt
    shocks = np.zeros(size)
    if volatility > 0:
        rng = block_generator(int(chunk["seed"]), block)
        for first in range(0, months, MONTHS_PER_DRAW):
            shocks += rng.standard_normal((min(MONTHS_PER_DRAW, months - first), size)).sum(axis=0)
    result: FloatArray = months * drift + volatility * sqrt(dt) * shocks
    return result


class Histogram:
    """Counts of log(S_T / amount) in HISTOGRAM_BINS equal bins, with under/overflow."""

    def __init__(self, lo: float, hi: float, bins: int) -> None:
        self.lo, self.hi, self.bins = lo, hi, bins
        self.width = (hi - lo) / bins
        # Rounding in add() may file a value lying within a few ulps of an edge into the
        # neighbouring bin; intervals are widened by this much to stay true bounds.
        self.slack = 1e-12 * (1 + abs(lo) + abs(hi))
        self.counts = np.zeros(bins, dtype=np.int64)
        self.under = 0
        self.over = 0

    def add(self, values: FloatArray) -> None:
        index = np.floor((values - self.lo) / self.width)
        self.under += int(np.count_nonzero(index < 0))
        self.over += int(np.count_nonzero(index >= self.bins))
        inside = index[(index >= 0) & (index < self.bins)].astype(np.int64)
        self.counts += np.bincount(inside, minlength=self.bins)

    def to_json(self) -> dict[str, Any]:
        """Counts without their leading and trailing zeros, and where they start."""
        filled = np.flatnonzero(self.counts)
        first = int(filled[0]) if filled.size else 0
        last = int(filled[-1]) + 1 if filled.size else 0
        counts = self.counts[first:last].tolist()
        return {"offset": first, "counts": counts, "under": self.under, "over": self.over}

    def merge_json(self, data: dict[str, Any]) -> None:
        offset = int(data["offset"])
        counts = np.asarray(data["counts"], dtype=np.int64)
        self.counts[offset : offset + counts.size] += counts
        self.under += int(data["under"])
        self.over += int(data["over"])

    def interval(self, rank: int, lowest: float, highest: float) -> tuple[float, float]:
        """The log-space interval holding the rank-th smallest value (1-based)."""
        if rank <= self.under:
            return lowest, min(self.lo + self.slack, highest)
        below = self.under + np.cumsum(self.counts)
        if rank > below[-1]:
            return max(self.hi - self.slack, lowest), highest
        i = int(np.searchsorted(below, rank))
        left = self.lo + i * self.width
        return max(left - self.slack, lowest), min(left + self.width + self.slack, highest)


def _block_stats(terminal: FloatArray) -> list[float]:
    """[count, mean, M2] of one block's terminal values."""
    mean = float(terminal.mean())
    return [int(terminal.size), mean, float(np.square(terminal - mean).sum())]


def _fold_stats(blocks: Iterator[list[float]]) -> tuple[int, float, float]:
    """(count, mean, M2) of all blocks, folded in the given order (Chan et al.)."""
    count, mean, m2 = 0, 0.0, 0.0
    for block_count, block_mean, block_m2 in blocks:
        total = count + int(block_count)
        delta = block_mean - mean
        mean += delta * block_count / total
        m2 += block_m2 + delta * delta * count * block_count / total
        count = total
    return count, mean, m2


class MonteCarlo(Workload[MonteCarloParams]):
    """Terminal-value distribution of a GBM investment; chunks are runs of path blocks."""

    kind = "monte_carlo"
    title = "Monte-Carlo investment projection"
    description = "Simulate an investment's value after `years` (geometric Brownian motion)."
    params_model = MonteCarloParams
    limits = (MAX_PATHS,)

    def complete_params(self, params: MonteCarloParams) -> MonteCarloParams:
        """Draw a fresh seed for a job that has none, so repeated jobs differ."""
        if params.seed is not None:
            return params
        return params.model_copy(update={"seed": randbits(SEED_BITS)})

    def split(self, params: MonteCarloParams, chunks: int) -> list[Chunk]:
        lo, hi = histogram_range(params.rate, params.volatility, params.years)
        common = {
            "amount": params.amount,
            "rate": params.rate,
            "volatility": params.volatility,
            "years": params.years,
            "paths": params.paths,
            "seed": _seed(params),
            "block_size": BLOCK_PATHS,
            "histogram": {"lo": lo, "hi": hi, "bins": HISTOGRAM_BINS},
        }
        blocks = ceil(params.paths / BLOCK_PATHS)
        return [
            {**common, "first_block": first, "last_block": last}
            for first, last in contiguous_ranges(0, blocks - 1, chunks)
        ]

    def run_chunk(self, chunk: Chunk) -> Partial:
        spec = chunk["histogram"]
        histogram = Histogram(float(spec["lo"]), float(spec["hi"]), int(spec["bins"]))
        amount = float(chunk["amount"])
        stats: list[list[float]] = []
        losses = 0
        lowest, highest = float("inf"), float("-inf")
        for block in range(int(chunk["first_block"]), int(chunk["last_block"]) + 1):
            log_returns = simulate_log_returns(chunk, block)
            terminal = amount * np.exp(log_returns)
            stats.append(_block_stats(terminal))
            losses += int(np.count_nonzero(terminal < amount))
            lowest = min(lowest, float(log_returns.min()))
            highest = max(highest, float(log_returns.max()))
            histogram.add(log_returns)
        return {
            "blocks": stats,
            "losses": losses,
            "min": lowest if stats else None,
            "max": highest if stats else None,
            "histogram": histogram.to_json(),
        }

    def combine(self, params: MonteCarloParams, partials: Sequence[Partial]) -> dict[str, Any]:
        lo, hi = histogram_range(params.rate, params.volatility, params.years)
        histogram = Histogram(lo, hi, HISTOGRAM_BINS)
        for partial in partials:
            histogram.merge_json(partial["histogram"])
        count, mean, m2 = _fold_stats(block for p in partials for block in p["blocks"])
        filled = [p for p in partials if p["blocks"]]
        lowest = min(float(p["min"]) for p in filled)
        highest = max(float(p["max"]) for p in filled)
        percentiles, bound = _percentiles(histogram, count, lowest, highest, params.amount)
        std = sqrt(m2 / (count - 1)) if count > 1 else 0.0
        return {
            "paths": count,
            "mean": mean,
            "std": std,
            "standard_error": std / sqrt(count),
            "expected_mean": params.amount * exp(params.rate * params.years),
            "percentiles": percentiles,
            "percentile_error_bound": bound,
            "probability_of_loss": sum(int(p["losses"]) for p in partials) / count,
            "seed": params.seed,
        }


def _seed(params: MonteCarloParams) -> int:
    """The job's seed. The engine completes every job's parameters before splitting it;
    a fixed fallback here would make every unseeded job draw the same numbers."""
    if params.seed is None:
        raise ValueError("a monte_carlo job needs a seed: complete_params draws one")
    return params.seed


def _percentiles(
    histogram: Histogram, count: int, lowest: float, highest: float, amount: float
) -> tuple[dict[str, float], float]:
    """Percentiles of S_T by nearest rank, and the largest relative error of any of them."""
    values: dict[str, float] = {}
    bound = 0.0
    for q in PERCENTILES:
        rank = min(max(ceil(q * count / 100), 1), count)
        left, right = histogram.interval(rank, lowest, highest)
        values[str(q)] = amount * exp((left + right) / 2)
        bound = max(bound, exp((right - left) / 2) - 1)
    return values, bound
