"""The engine's figures beside a reference build, measured in one run.

Runs `chunkwise up --workers 2` for this build and for a reference (a git revision,
exported to a scratch folder and run from there), interleaved over rounds, and prints:

- small job: sum to 10,000 in 8 chunks, POST then GET every 2 ms until SUCCESS;
- chunk throughput: 20 jobs of 100 trivial chunks submitted back to back, first POST to
  last SUCCESS (polled every 20 ms, so the poller does not take the engine's CPU);
- pi(10^10), 64 chunks, cache off, POST to SUCCESS.

    python bench/engine.py --reference d6c9523 --rounds 6
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from system import running_system, timed_job, wait_success  # bench/system.py, beside this script

WORKERS = 2
SMALL_JOBS = 60
THROUGHPUT_JOBS, THROUGHPUT_CHUNKS = 20, 100
POLL_S = 0.002
THROUGHPUT_POLL_S = 0.02
REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass
class Figures:
    small_ms: list[float] = field(default_factory=list)
    chunks_per_s: list[float] = field(default_factory=list)
    pi_1e10_s: list[float] = field(default_factory=list)


def small_job_ms(http: httpx.Client) -> float:
    start = time.perf_counter()
    body = {"kind": "sum_range", "params": {"n": 10_000}, "chunks": 8}
    wait_success(http, http.post("/api/jobs", json=body).json()["job_id"], POLL_S)
    return (time.perf_counter() - start) * 1000


def throughput(http: httpx.Client) -> float:
    body = {"kind": "sum_range", "params": {"n": 100_000}, "chunks": THROUGHPUT_CHUNKS}
    start = time.perf_counter()
    ids = [http.post("/api/jobs", json=body).json()["job_id"] for _ in range(THROUGHPUT_JOBS)]
    for job_id in ids:  # polled gently: the figure is the engine's, not the poller's
        wait_success(http, job_id, THROUGHPUT_POLL_S)
    return THROUGHPUT_JOBS * THROUGHPUT_CHUNKS / (time.perf_counter() - start)


def measure(into: Figures, source: str | None) -> None:
    with running_system(workers=WORKERS, source=source) as system:
        with httpx.Client(base_url=system.base_url, timeout=30) as http:
            small_job_ms(http)  # warm
            into.small_ms.extend(small_job_ms(http) for _ in range(SMALL_JOBS))
            into.chunks_per_s.append(throughput(http))
        body = {"kind": "prime_count", "params": {"n": 10**10}, "chunks": 64}
        into.pi_1e10_s.append(timed_job(system.base_url, body, cache=False))


def export(revision: str, folder: Path) -> str:
    """The reference's `src` folder, exported from git."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return str(folder / "src")


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="HEAD", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    ours, theirs = Figures(), Figures()
    with tempfile.TemporaryDirectory(prefix="chunkwise-ref-") as scratch:
        source = export(args.reference, Path(scratch))
        for round_number in range(args.rounds):
            # ABBA order: neither build always runs first, on a machine warmed by the other.
            pair = [(theirs, source), (ours, None)]
            for figures, build in pair if round_number % 2 == 0 else reversed(pair):
                measure(figures, build)
    rows = [
        (
            "small job p50 / p99 (ms)",
            f"{statistics.median(ours.small_ms):.1f} / {quantile(ours.small_ms, 0.99):.1f}",
            f"{statistics.median(theirs.small_ms):.1f} / {quantile(theirs.small_ms, 0.99):.1f}",
        ),
        (
            "chunk throughput (chunks/s, median of rounds)",
            f"{statistics.median(ours.chunks_per_s):.0f}",
            f"{statistics.median(theirs.chunks_per_s):.0f}",
        ),
        (
            "pi(1e10), cache off (s, median of rounds)",
            f"{statistics.median(ours.pi_1e10_s):.3f}",
            f"{statistics.median(theirs.pi_1e10_s):.3f}",
        ),
    ]
    print(f"# engine, {WORKERS} workers, {args.rounds} rounds, reference {args.reference}")
    print("| measure | this build | reference |")
    print("| --- | --- | --- |")
    for what, now, before in rows:
        print(f"| {what} | {now} | {before} |")


if __name__ == "__main__":
    main()
