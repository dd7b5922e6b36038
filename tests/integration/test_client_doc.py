"""docs/client.md's ten-jobs scripts, run as written (a Python process of their own,
configured only by CHUNKWISE_API_URL) against a running system: each job's events, then
every count, exact."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.live import LiveSystem

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
LIMITS = [1_000_000 * k for k in range(1, 11)]


def prime_counts(limits: list[int]) -> list[int]:
    """The number of primes up to each limit, by a plain sieve."""
    sieve = np.ones(max(limits) + 1, dtype=bool)
    sieve[:2] = False
    for p in range(2, int(max(limits) ** 0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    below = np.cumsum(sieve)
    return [int(below[n]) for n in limits]


def documented_script(name: str) -> str:
    """The doc's Python block that starts with the comment `# name:`."""
    text = DOC.read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    [script] = [block for block in blocks if block.startswith(f"# {name}:")]
    return script


@pytest.mark.parametrize("name", ["ten_jobs.py", "ten_jobs_async.py"])
def test_the_documented_script_follows_ten_jobs_and_prints_their_counts(
    live: LiveSystem, tmp_path: Path, name: str
) -> None:
    env = {
        **live.env,
        "CHUNKWISE_API_URL": live.api_url,
        "XDG_CONFIG_HOME": str(tmp_path),  # no token a developer's `chunkwise login` kept
    }
    env.pop("CHUNKWISE_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", documented_script(name)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    counts = prime_counts(LIMITS)
    expected = [
        f"primes up to {n:>10,}: {count:>7,}" for n, count in zip(LIMITS, counts, strict=True)
    ]
    assert lines[-10:] == expected
    progress = lines[:-10]
    ends = [line for line in progress if line.endswith("8/8 chunks, SUCCESS")]
    assert len({line.split(":")[0] for line in ends}) == 10, "each job was followed to its end"
