"""The Debian `primesieve` command, the reference every prime-counting figure is held to.

Its own `--time` is used, so its process start-up is not charged to it.
"""

from __future__ import annotations

import shutil
import subprocess

MISSING = "primesieve not installed; `make bench-tools`"


def primesieve_seconds(lo: int, hi: int, threads: int = 1) -> float | None:
    """primesieve's own timing of counting the primes in [lo, hi] on `threads` threads;
    None when the command is not installed."""
    if shutil.which("primesieve") is None:
        return None
    command = ["primesieve", str(lo), str(hi), "--count", f"-t{threads}", "-q", "--time"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout
    for line in out.splitlines():
        if line.startswith("Seconds:"):
            return float(line.split()[1])
    raise RuntimeError(f"primesieve printed no time: {out!r}")
