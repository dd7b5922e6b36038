"""Running a whole job in-process, the way the engine would, for workload tests."""

from __future__ import annotations

import json
from typing import Any

from chunkwise.workloads import Workload


def run_job(
    workload: Workload[Any], raw: dict[str, Any], chunks: int
) -> tuple[list[Any], dict[str, Any]]:
    """Partials (after a JSON round trip, as broker and store carry them) and the result.

    As the engine does, the parameters are completed once and kept: the result reports
    what was drawn (a seed, say).
    """
    params = workload.complete_params(workload.parse_params(raw, {}))
    partials = [
        json.loads(json.dumps(workload.run_chunk(chunk)))
        for chunk in workload.split(params, chunks)
    ]
    return partials, workload.combine(params, partials)
