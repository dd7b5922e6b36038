"""Workload kinds that misbehave on purpose, loaded into real workers through
CHUNKWISE_EXTRA_WORKLOADS. Each chunk appends to a log file under `log_dir`, so tests can
tell how often, when and where a chunk ran."""

from __future__ import annotations

import os
import signal
import time
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

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


class LoggedParams(BaseModel):
    """What every kind here takes: the folder its chunks log to."""

    model_config = ConfigDict(extra="forbid")
    log_dir: str


P = TypeVar("P", bound=LoggedParams)


class Logged(Workload[P]):
    """A kind whose every chunk carries its index and the job's params, logs its start, and
    whose result counts the chunks (each returns 1)."""

    def split(self, params: P, chunks: int) -> list[Chunk]:
        return [{"index": i, **params.model_dump()} for i in range(chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        log_event(chunk["log_dir"], chunk["index"], "start")
        return self.compute(chunk)

    @abstractmethod
    def compute(self, chunk: Chunk) -> Partial:
        """The chunk's partial, once its start is logged."""

    def combine(self, params: P, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"ok": sum(partials)}


class SlowParams(LoggedParams):
    n: int
    chunk_s: float


class SlowPrimeCount(Logged[SlowParams]):
    """prime_count whose every chunk also sleeps `chunk_s` seconds (in short naps)."""

    kind = "slow_prime_count"
    description = "prime_count, slowed down for reliability tests."
    params_model = SlowParams

    def split(self, params: SlowParams, chunks: int) -> list[Chunk]:
        return [
            {"index": i, "lo": lo, "hi": hi, **params.model_dump()}
            for i, (lo, hi) in enumerate(contiguous_ranges(1, params.n, chunks))
        ]

    def compute(self, chunk: Chunk) -> Partial:
        deadline = time.monotonic() + chunk["chunk_s"]
        while time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        count = count_primes_between(chunk["lo"], chunk["hi"])
        log_event(chunk["log_dir"], chunk["index"], "end")
        return count

    def combine(self, params: SlowParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"prime_count": sum(partials)}


class FlakyParams(LoggedParams):
    fail_times: int


class Flaky(Logged[FlakyParams]):
    """Each chunk loses its 'connection' on its first `fail_times` attempts, then succeeds."""

    kind = "flaky"
    description = "Fails transiently, for retry tests."
    params_model = FlakyParams

    def compute(self, chunk: Chunk) -> Partial:
        attempts = len(chunk_events(Path(chunk["log_dir"]), chunk["index"], "start"))
        if attempts <= chunk["fail_times"]:
            raise ConnectionError(f"connection lost (injected, attempt {attempts})")
        return 1


class BrokenParams(LoggedParams):
    bad_index: int
    chunk_s: float


class Broken(Logged[BrokenParams]):
    """Chunk `bad_index` has a bug (divides by zero); the others sleep `chunk_s`."""

    kind = "broken"
    description = "Fails deterministically, for failure tests."
    params_model = BrokenParams

    def compute(self, chunk: Chunk) -> Partial:
        if chunk["index"] == chunk["bad_index"]:
            return divide(1, 0)
        time.sleep(chunk["chunk_s"])
        return 1


def divide(a: int, b: int) -> float:
    return a / b


class PoisonParams(LoggedParams):
    bad_index: int
    how: str


class Poison(Logged[PoisonParams]):
    """Chunk `bad_index` can never be recorded: it returns a numpy scalar (`how` =
    "unstorable") or kills its own process (`how` = "suicide"); the others return 1."""

    kind = "poison"
    description = "A chunk that can never be recorded, for attempt-limit tests."
    params_model = PoisonParams

    def compute(self, chunk: Chunk) -> Partial:
        if chunk["index"] != chunk["bad_index"]:
            return 1
        if chunk["how"] == "suicide":
            os.kill(os.getpid(), signal.SIGKILL)
        return np.int64(1)
