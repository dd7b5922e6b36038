"""π(x) over HTTP, the whole system, beside primecount measured in the same run.

    python bench/prime_count.py [--max-exponent 16] [--chunks 32] [--plot PATH]

For x = 10^10 ... 10^max: `chunkwise up --workers 1` and `--workers 2`, cache off,
POST to SUCCESS (bench/system.py), method combinatorial; the sieve method too while it
takes under a minute; beside the Debian `primecount` CLI with -t1 and -t2 (its own
--time, so its start-up is not charged to it). Each result is checked against
primecount's. Prints a table; --plot draws time against x, log-log, for every method.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from system import running_system, wait_success  # bench/system.py, beside this script

SIEVE_MAX_EXPONENT = 11
"""The sieve runs up to 10^11 here (about 20 s on two workers); beyond, it is left out."""
FIVE_X = 5.0


def primecount(x: int, threads: int) -> tuple[int, float]:
    """(π(x), seconds) from the primecount CLI."""
    done = subprocess.run(
        ["primecount", str(x), f"--threads={threads}", "--time"],
        capture_output=True,
        text=True,
        check=True,
    )
    count = int(done.stdout.split()[0])
    seconds = float(re.search(r"Seconds:\s*([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    return count, seconds


def timed_count(base_url: str, body: dict[str, object]) -> tuple[int, float]:
    """(π(x) as the job answered, seconds from POST to SUCCESS), cache off."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        start = time.perf_counter()
        response = http.post("/api/jobs", json=body, params={"cache": "false"})
        response.raise_for_status()
        job_id = response.json()["job_id"]
        wait_success(http, job_id, poll_s=0.02)
        seconds = time.perf_counter() - start
        return int(http.get(f"/api/jobs/{job_id}").json()["result"]["prime_count"]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-exponent", type=int, default=10)
    parser.add_argument("--max-exponent", type=int, default=16)
    parser.add_argument("--chunks", type=int, default=32)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    exponents = list(range(args.min_exponent, args.max_exponent + 1))
    times: dict[str, dict[int, float]] = {}
    for workers in (1, 2):
        with running_system(workers=workers) as up:
            for method in ("combinatorial", "sieve"):
                row = times.setdefault(f"{method}, {workers} worker(s)", {})
                for k in exponents:
                    if method == "sieve" and k > SIEVE_MAX_EXPONENT:
                        continue
                    body = {
                        "kind": "prime_count",
                        "params": {"n": 10**k, "method": method},
                        "chunks": args.chunks,
                    }
                    count, row[k] = timed_count(up.base_url, body)
                    if count != primecount(10**k, 2)[0]:
                        raise SystemExit(f"{method} gave {count} for 10^{k}: wrong")
                    print(f"  {method} 10^{k} on {workers}: {row[k]:.3f} s", file=sys.stderr)
    for threads in (1, 2):
        times[f"primecount -t{threads}"] = {k: primecount(10**k, threads)[1] for k in exponents}
    print(
        f"Run: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{args.chunks} chunks, cache off\n"
    )
    print("| x | " + " | ".join(times) + " | combinatorial, 2 workers / primecount -t2 |")
    print("|---|" + "---|" * (len(times) + 1))
    for k in exponents:
        cells = [f"{row[k]:.3f} s" if k in row else "" for row in times.values()]
        ratio = times["combinatorial, 2 worker(s)"][k] / times["primecount -t2"][k]
        verdict = "" if k not in (15, 16) else (" (<= 5x)" if ratio <= FIVE_X else " (> 5x)")
        print(f"| 10^{k} | " + " | ".join(cells) + f" | {ratio:.1f}x{verdict} |")
    if args.plot is not None:
        plot(times, args.plot)


def plot(times: dict[str, dict[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, row in times.items():
        xs = sorted(row)
        axes.plot([10**k for k in xs], [row[k] for k in xs], marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("x")
    axes.set_ylabel("seconds, POST to SUCCESS (primecount: its own time)")
    axes.set_title("π(x): chunkwise's methods and primecount")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
