"""Workload kinds that misbehave on purpose, loaded into real workers through
CHUNKWISE_EXTRA_WORKLOADS. Each chunk appends to a log file under `log_dir`, so tests can
tell how often, when and where a chunk ran."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from chunkwise.workloads.base import Chunk, Partial, Workload, contiguous_ranges
from chunkwise.workloads.prime_kernels import count_primes_between

EXTRA_WORKLOADS = ",".join(
    f"tests.reliability.faulty:{name}" for name in ("SlowPrimeCount", "Flaky", "Broken", "Poison")
)


def log_event(log_dir: str, index: int, event: str) -> None:
    """Append `time event pid` to the chunk's log."""
    with open(Path(log_dir) / f"{index}.log", "a") as log:
        log.write(f"{time.time():.6f} {event} {os.getpid()}\n")


def chunk_events(log_dir: Path, index: int, event: str) -> list[float]:
    """When chunk `index` logged `event`, oldest first."""
    path = log_dir / f"{index}.log"
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines()]
    return [float(line[0]) for line in lines if line[1] == event]


class SlowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int
    chunk_s: float
    log_dir: str


class SlowPrimeCount(Workload[SlowParams]):
    """prime_count whose every chunk also sleeps `chunk_s` seconds (in short naps)."""

    kind = "slow_prime_count"
    description = "prime_count, slowed down for reliability tests."
    params_model = SlowParams

    def split(self, params: SlowParams, chunks: int) -> list[Chunk]:
        return [
            {"index": i, "lo": lo, "hi": hi, "chunk_s": params.chunk_s, "log_dir": params.log_dir}
            for i, (lo, hi) in enumerate(contiguous_ranges(1, params.n, chunks))
        ]

    def run_chunk(self, chunk: Chunk) -> Partial:
        log_event(chunk["log_dir"], chunk["index"], "start")
        deadline = time.monotonic() + chunk["chunk_s"]
        while time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        count = count_primes_between(chunk["lo"], chunk["hi"])
        log_event(chunk["log_dir"], chunk["index"], "end")
        return count

    def combine(self, params: SlowParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"prime_count": sum(partials)}


class FlakyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fail_times: int
    log_dir: str


class Flaky(Workload[FlakyParams]):
    """Each chunk loses its 'connection' on its first `fail_times` attempts, then succeeds."""

    kind = "flaky"
    description = "Fails transiently, for retry tests."
    params_model = FlakyParams

    def split(self, params: FlakyParams, chunks: int) -> list[Chunk]:
        return [
            {"index": i, "fail_times": params.fail_times, "log_dir": params.log_dir}
            for i in range(chunks)
        ]

    def run_chunk(self, chunk: Chunk) -> Partial:
        log_event(chunk["log_dir"], chunk["index"], "start")
        attempts = len(chunk_events(Path(chunk["log_dir"]), chunk["index"], "start"))
        if attempts <= chunk["fail_times"]:
            raise ConnectionError(f"connection lost (injected, attempt {attempts})")
        return 1

    def combine(self, params: FlakyParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"ok": sum(partials)}


class BrokenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bad_index: int
    chunk_s: float
    log_dir: str


class Broken(Workload[BrokenParams]):
    """Chunk `bad_index` has a bug (divides by zero); the others sleep `chunk_s`."""

    kind = "broken"
    description = "Fails deterministically, for failure tests."
    params_model = BrokenParams

    def split(self, params: BrokenParams, chunks: int) -> list[Chunk]:
        return [
            {
                "index": i,
                "bad": i == params.bad_index,
                "chunk_s": params.chunk_s,
                "log_dir": params.log_dir,
            }
            for i in range(chunks)
        ]

    def run_chunk(self, chunk: Chunk) -> Partial:
        log_event(chunk["log_dir"], chunk["index"], "start")
        if chunk["bad"]:
            return divide(1, 0)
        time.sleep(chunk["chunk_s"])
        return 1

    def combine(self, params: BrokenParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"ok": sum(partials)}


def divide(a: int, b: int) -> float:
    return a / b


class PoisonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bad_index: int
    how: str
    log_dir: str


class Poison(Workload[PoisonParams]):
    """Chunk `bad_index` can never be recorded: it returns a numpy scalar (`how` =
    "unstorable") or kills its own process (`how` = "suicide"); the others return 1."""

    kind = "poison"
    description = "A chunk that can never be recorded, for attempt-limit tests."
    params_model = PoisonParams

    def split(self, params: PoisonParams, chunks: int) -> list[Chunk]:
        return [
            {"index": i, "bad": i == params.bad_index, "how": params.how, "log_dir": params.log_dir}
            for i in range(chunks)
        ]

    def run_chunk(self, chunk: Chunk) -> Partial:
        log_event(chunk["log_dir"], chunk["index"], "start")
        if not chunk["bad"]:
            return 1
        if chunk["how"] == "suicide":
            os.kill(os.getpid(), signal.SIGKILL)
        return np.int64(1)

    def combine(self, params: PoisonParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"ok": sum(partials)}
