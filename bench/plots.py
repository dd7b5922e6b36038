"""The engine bench's figures as pictures: throughput against bare Celery, and scaling.

    python bench/plots.py figures.json --out docs     (figures.json: engine.py --json)

Writes throughput.png (chunks/s of chunkwise and of bare Celery, each round a dot, the
median a bar) and scaling.png (pi(10^10)'s speed-up against worker processes, beside
primesieve's against threads and the ideal line).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # after the backend is chosen


def write_plots(figures: dict[str, Any], folder: Path) -> list[Path]:
    """Write the plots the figures allow into `folder`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [throughput_plot(figures, folder / "throughput.png")]
    scaling = scaling_plot(figures, folder / "scaling.png")
    return written + ([scaling] if scaling else [])


def throughput_plot(figures: dict[str, Any], path: Path) -> Path:
    series = {
        "chunkwise": figures["chunkwise"]["chunks_per_s"],
        "bare Celery": figures["references"]["chunks_per_s"],
    }
    if figures.get("other_build"):
        series[f"chunkwise {figures['reference_build']}"] = figures["other_build"]["chunks_per_s"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for x, runs in enumerate(series.values()):
        ax.bar(x, statistics.median(runs), color=f"C{x}", alpha=0.7)
        ax.plot([x] * len(runs), runs, "k.", markersize=6)
        ax.annotate(
            f"{statistics.median(runs):,.0f}",
            (x, statistics.median(runs)),
            ha="center",
            va="bottom",
            xytext=(0, 3),
            textcoords="offset points",
        )
    ax.set_xticks(range(len(series)), list(series))
    ax.set_ylabel("chunks/s")
    ax.set_title("20 jobs x 100 trivial chunks, 2 worker processes")
    return save(fig, path)


def scaling_plot(figures: dict[str, Any], path: Path) -> Path | None:
    """None when the run has no 1-process figure to scale from."""
    ours = speedups(figures["chunkwise"]["pi_s"])
    if not ours:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.6))
    top = max(int(p) for p in ours)
    ax.plot([1, top], [1, top], "k--", label="ideal")
    ax.plot(list(ours), list(ours.values()), "o-", label="chunkwise, worker processes")
    sieve = speedups(figures["references"]["primesieve_s"])
    if sieve:
        ax.plot(list(sieve), list(sieve.values()), "s-", label="primesieve, threads")
    ax.set_xticks(range(1, top + 1))
    ax.set_xlabel("processes")
    ax.set_ylabel("speed-up")
    ax.set_title("pi(10^10), cache off")
    ax.legend()
    return save(fig, path)


def speedups(seconds: dict[str, list[float]]) -> dict[int, float]:
    """Speed-up over one process for each process count measured (medians)."""
    medians = {int(count): statistics.median(runs) for count, runs in seconds.items() if runs}
    if 1 not in medians:
        return {}
    return {count: medians[1] / medians[count] for count in sorted(medians)}


def save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, help="the JSON engine.py --json wrote")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNGs")
    args = parser.parse_args()
    for path in write_plots(json.loads(args.figures.read_text()), args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
