"""Measure the workload kernels on this machine and print one table.

Run: python bench/kernels.py            (about a minute; --quick for a smoke run)

Rows, each measured in this run:
  * prime sieve rate per core, ours vs the Debian `primesieve` CLI (-t1), with the ratio;
  * peak RSS above idle while one worker process computes a 1e9-number prime_count chunk;
  * prime_list up to 1e8, sieve vs trial division (the latter extrapolated from samples);
  * monte_carlo paths per second on one core;
  * the cost of loading the numba kernels in a fresh process (what warm_up pays).

Timings are the best of several runs, ours interleaved with primesieve's, because the
machine may be shared; primesieve's own `--time` is used, so its process start-up is
not charged to it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from chunkwise.workloads import get_workload
from chunkwise.workloads.prime_kernels import count_primes_between, list_primes_trial_division
from primesieve_cli import primesieve_seconds  # bench/primesieve_cli.py, beside this script

MiB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One line of the table; `reference` and `ratio` are empty where nothing compares."""

    what: str
    ours: str
    reference: str = ""
    ratio: str = ""
    note: str = ""


@dataclass(frozen=True)
class Options:
    repeats: int
    quick: bool


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` wall-clock timings of run()."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def sci(x: int) -> str:
    """1000000000000 -> '1e12', 0 -> '0', 2 * 10**9 -> '2e9'."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def span(lo: int, hi: int) -> str:
    """The half-open range [lo, hi) written as the brief writes it."""
    return f"[0, {sci(hi)})" if lo == 0 else f"[{sci(lo)}, {sci(lo)}+{sci(hi - lo)})"


def rate(numbers: int, seconds: float) -> str:
    return f"{numbers / seconds / 1e9:.2f} G numbers/s ({seconds:.3f} s)"


def sieve_rows(options: Options) -> list[Row]:
    """Counting rate per core on two ranges, against primesieve -t1 on the same range."""
    ranges = [(0, 10**10), (10**12, 10**12 + 10**9)]
    if options.quick:
        ranges = [(0, 10**9), (10**12, 10**12 + 10**8)]
    rows = []
    for lo, hi in ranges:
        ours, theirs = float("inf"), float("inf")
        for _ in range(options.repeats):  # interleaved: both see the same machine load
            ours = min(ours, best_seconds(partial(count_primes_between, lo, hi - 1), 1))
            measured = primesieve_seconds(lo, hi - 1)
            theirs = min(theirs, measured) if measured is not None else theirs
        label = f"prime_count {span(lo, hi)}, one core"
        if theirs == float("inf"):
            rows.append(Row(label, rate(hi - lo, ours), "primesieve missing", "", APT_HINT))
        else:
            reference = rate(hi - lo, theirs)
            rows.append(Row(label, rate(hi - lo, ours), reference, f"{theirs / ours:.0%}"))
    return rows


APT_HINT = "apt-get install primesieve"

MEMORY_CHILD = """
import sys, time
from chunkwise.workloads import get_workload

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))

start = time.perf_counter()
workload = get_workload("prime_count")
workload.warm_up()
loaded = time.perf_counter() - start
with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
    f.write("5")
idle = status("VmRSS")
workload.run_chunk({"lo": int(sys.argv[1]), "hi": int(sys.argv[2])})
print(idle, status("VmHWM"), loaded)
"""


def memory_rows(options: Options) -> list[Row]:
    """Peak RSS of a worker-like process computing one 1e9-number chunk, over its idle RSS."""
    rows = []
    chunks = {"[0, 1e9)": 0, "[1e12, 1e12+1e9)": 10**12, "[1e13-1e9, 1e13)": 10**13 - 10**9}
    for label, lo in chunks.items():
        command = [sys.executable, "-c", MEMORY_CHILD, str(lo), str(lo + 10**9 - 1)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        idle_kib, peak_kib, loaded_s = out.split()
        growth = (int(peak_kib) - int(idle_kib)) * 1024 / MiB
        rows.append(
            Row(
                f"peak RSS, prime_count chunk {label}",
                f"+{growth:.1f} MiB",
                note=f"idle {int(idle_kib) / 1024:.0f} MiB after warm_up (numba included)",
            )
        )
    rows.append(
        Row("warm_up in a fresh process", f"{float(loaded_s):.2f} s", note="numba cache hit")
    )
    return rows


def prime_list_rows(options: Options) -> list[Row]:
    """Listing [0, 1e8] by sieve (measured) and by trial division (sampled, extrapolated)."""
    end = 10**7 if options.quick else 10**8
    workload = get_workload("prime_list")
    chunk = {"lo": 0, "hi": end, "algorithm": "sieve"}
    sieve_s = best_seconds(lambda: workload.run_chunk(chunk), options.repeats)
    samples, width = (4, 10**4) if options.quick else (10, 10**5)
    sampled_s = 0.0
    for i in range(samples):  # evenly spread: cost per number grows like sqrt(n) / ln(n)
        lo = (2 * i + 1) * end // (2 * samples)
        sampled_s += best_seconds(partial(list_primes_trial_division, lo, lo + width), 1)
    trial_s = sampled_s / (samples * width) * end
    return [
        Row(f"prime_list [0, {sci(end)}] sieve, incl. encoding", f"{sieve_s:.2f} s"),
        Row(
            f"prime_list [0, {sci(end)}] trial division",
            f"~{trial_s:.0f} s (extrapolated)",
            note=f"from {samples} samples of {sci(width)} numbers; {trial_s / sieve_s:,.0f}x sieve",
        ),
    ]


def monte_carlo_rows(options: Options) -> list[Row]:
    """Simulated paths per second on one core, 10 years of monthly steps."""
    workload = get_workload("monte_carlo")
    paths = 200_000 if options.quick else 2_000_000
    raw = {"amount": 10_000, "rate": 0.05, "volatility": 0.2, "years": 10, "paths": paths}
    params = workload.parse_params(raw, {})
    chunk = workload.split(params, 1)[0]
    seconds = best_seconds(lambda: workload.run_chunk(chunk), options.repeats)
    return [
        Row(
            "monte_carlo, 10 years monthly (120 steps)",
            f"{paths / seconds / 1e6:.2f} M paths/s",
            note=f"{paths * 120 / seconds / 1e6:.0f} M normal draws/s",
        )
    ]


def system_rows(options: Options) -> list[Row]:
    """pi(n) through the whole system (API, broker, one worker per core) vs primesieve -tN."""
    from system import running_system, timed_job  # bench/system.py, beside this script

    cores = os.cpu_count() or 1
    n = 10**9 if options.quick else 10**10
    body = {"kind": "prime_count", "params": {"n": n}, "chunks": 64}
    rows = []
    with running_system(workers=cores) as system:
        ours = min(timed_job(system.base_url, body, cache=False) for _ in range(options.repeats))
        theirs = min(
            primesieve_seconds(0, n, cores) or float("inf") for _ in range(options.repeats)
        )
        label = f"pi({sci(n)}) whole system, {cores} workers, cache off"
        reference = (
            f"{theirs:.3f} s (-t{cores})" if theirs != float("inf") else "primesieve missing"
        )
        ratio = f"{ours / theirs:.1f}x its time" if theirs != float("inf") else ""
        rows.append(Row(label, f"{ours:.3f} s", reference, ratio, "POST to SUCCESS over HTTP"))
        cold = timed_job(system.base_url, body, cache=True)
        warm = timed_job(system.base_url, body, cache=True)
        rows.append(
            Row(
                f"pi({sci(n)}) again, from the chunk cache",
                f"{warm:.3f} s",
                "",
                "",
                f"first run with the cache on: {cold:.3f} s",
            )
        )
    return rows


SECTIONS: list[Callable[[Options], list[Row]]] = [
    sieve_rows,
    memory_rows,
    prime_list_rows,
    monte_carlo_rows,
    system_rows,
]


def print_table(rows: list[Row]) -> None:
    header = Row("measure", "chunkwise", "primesieve -t1", "ours/theirs", "note")
    lines = [header, Row("---", "---", "---", "---", "---"), *rows]
    for row in lines:
        print(f"| {row.what} | {row.ours} | {row.reference} | {row.ratio} | {row.note} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small ranges: a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measure")
    args = parser.parse_args()
    options = Options(repeats=args.repeats, quick=args.quick)
    for kind in ("prime_count", "prime_list", "monte_carlo"):
        get_workload(kind).warm_up()
    print(f"# chunkwise kernels on {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}")
    rows = [row for section in SECTIONS for row in section(options)]
    print_table(rows)


if __name__ == "__main__":
    main()
