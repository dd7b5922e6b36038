"""Service information: health, the workload kinds, and the root summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chunkwise import __version__
from chunkwise.api.deps import CeleryDep, SettingsDep, StoreDep
from chunkwise.api.probes import broker_answers, live_capacity, store_answers
from chunkwise.api.schemas import Health, WorkloadKind
from chunkwise.workloads import get_workload, workload_kinds

router = APIRouter(tags=["system"])


@router.get("/health", responses={503: {"model": Health, "description": "A part is down"}})
def health(store: StoreDep, celery: CeleryDep, settings: SettingsDep) -> JSONResponse:
    """Whether the broker and the store answer, and how many workers are alive."""
    database_ok = store_answers(store)
    broker_ok = broker_answers(celery)
    workers, processes = (
        live_capacity(store, ttl_s=settings.worker_ttl_s) if database_ok else (0, 0)
    )
    body = Health(
        status="ok" if database_ok and broker_ok else "unavailable",
        workers=workers,
        processes=processes,
        broker="ok" if broker_ok else "unreachable",
        database="ok" if database_ok else "unreachable",
    )
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
