"""Service information: health, the workload kinds, and the root summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chunkwise import __version__
from chunkwise.api.deps import HealthDep, SettingsDep
from chunkwise.api.schemas import Health, WorkloadKind
from chunkwise.workloads import get_workload, workload_kinds

router = APIRouter(tags=["system"])


@router.get("/health", responses={503: {"model": Health, "description": "A part is down"}})
async def health(monitor: HealthDep) -> JSONResponse:
    """Whether the broker and the store answer, and how many workers are alive: what the
    background probes found, at most HEALTH_PROBE_INTERVAL_S old (`api/health.py`)."""
    body = monitor.report() if monitor.running else await run_in_threadpool(monitor.report)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


@router.get("/api/kinds")
def kinds(settings: SettingsDep) -> list[WorkloadKind]:
    """The workload kinds this service runs, with their parameters' schema and limits."""
    limits = settings.workload_limits()
    return [
        WorkloadKind(
            kind=kind,
            description=get_workload(kind).description,
            params_schema=get_workload(kind).params_model.model_json_schema(),
            limits={limit.name: limits[limit.name] for limit in get_workload(kind).limits},
        )
        for kind in workload_kinds()
    ]


@router.get("/")
def root() -> dict[str, Any]:
    """What this service is and where to go next."""
    return {
        "name": "chunkwise",
        "version": __version__,
        "docs": "/docs",
        "openapi": "/openapi.json",
        "health": "/health",
        "jobs": "/api/jobs",
        "kinds": workload_kinds(),
    }
