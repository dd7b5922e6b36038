"""Kinds that a chunkwise process must refuse to load, and survive: the entry points of
this distribution name a module that does not exist, a class that is no workload, and a
workload that claims a built-in kind's name."""

from __future__ import annotations

from chunkwise.workloads.sums import SumRange


class NotAKind:
    """Not a Workload at all."""


class AnotherSumRange(SumRange):
    """A second class under the name `sum_range`, which the built-in kind holds."""
