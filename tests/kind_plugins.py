"""Kinds from other packages, for tests that need no process: a registry a test may add to
and that is put back after it, a small plug-in kind (and a few that are not), and
installed distributions written straight into a folder on sys.path, where
importlib.metadata finds their entry points as it finds those pip installs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from chunkwise.workloads import Chunk, Limit, Partial, Workload, registry
from chunkwise.workloads.base import contiguous_ranges
from chunkwise.workloads.sums import SumRange


def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let this test register kinds: the registry as it was comes back after it."""
    monkeypatch.setattr(registry, "_WORKLOADS", dict(registry._WORKLOADS))
    monkeypatch.setattr(registry, "_PACKAGES", dict(registry._PACKAGES))


def write_distribution(root: Path, name: str, entry_points: Mapping[str, str]) -> None:
    """An installed distribution `name` in `root` whose `chunkwise.workloads` entry points
    are `entry_points` (kind -> "module:Class"); put `root` on sys.path to install it."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    points = "".join(f"{kind} = {value}\n" for kind, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[chunkwise.workloads]\n{points}")


class CubesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1, le=10**6)


class Cubes(Workload[CubesParams]):
    """1³ + 2³ + … + n³, a kind no built-in module declares."""

    kind = "cubes"
    description = "The sum of the cubes of 1..n."
    params_model = CubesParams

    def split(self, params: CubesParams, chunks: int) -> list[Chunk]:
        return [{"lo": lo, "hi": hi} for lo, hi in contiguous_ranges(1, params.n, chunks)]

    def run_chunk(self, chunk: Chunk) -> Partial:
        return sum(k**3 for k in range(chunk["lo"], chunk["hi"] + 1))

    def combine(self, params: CubesParams, partials: Sequence[Partial]) -> dict[str, Any]:
        return {"sum": sum(partials)}


CUBES = Cubes()
"""An instance: an entry point may name one instead of a class."""


class OtherSumRange(SumRange):
    """A second class that claims the built-in kind's name."""


class BadLimit(Cubes):
    """A kind whose limit no deployment could hold: its default is below its minimum."""

    kind = "bad_limit"
    limits = (Limit(name="bad_limit_max_n", default=0, description="Never valid.", minimum=1),)


class NotAKind:
    """Not a Workload at all."""
