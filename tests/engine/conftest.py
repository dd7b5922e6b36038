"""The engine's tests get their probe workload kinds (tests/engine/probe_kinds.py) here."""

from __future__ import annotations

import pytest

from chunkwise.workloads import registry
from tests.engine.probe_kinds import Pieced, ProbeKinds, Scripted


@pytest.fixture
def probe_kinds(monkeypatch: pytest.MonkeyPatch) -> ProbeKinds:
    """The probe kinds, fresh and registered for this test only."""
    kinds = ProbeKinds(Scripted(), Pieced())
    monkeypatch.setitem(registry._WORKLOADS, Scripted.kind, kinds.scripted)
    monkeypatch.setitem(registry._WORKLOADS, Pieced.kind, kinds.pieced)
    return kinds
