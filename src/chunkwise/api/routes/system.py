"""Service information: health and the workload kinds."""

from __future__ import annotations

import copy
import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from chunkwise.api.deps import HealthDep, KindOfferDep, SettingsDep
from chunkwise.errors import AuthenticationError
from chunkwise.schemas import (
    ChunkBounds,
    ErrorBody,
    Health,
    JobCreate,
    Liveness,
    Readiness,
    WorkloadKind,
)
from chunkwise.workloads import Workload, get_workload, workload_package
from chunkwise.workloads.limits import bounded_fields

router = APIRouter(tags=["system"])

DEFAULT_CHUNKS: int = JobCreate.model_fields["chunks"].default
"""A job's chunk count when the request names none."""


@router.get("/health", responses={503: {"model": Health, "description": "A part is down"}})
async def health(monitor: HealthDep) -> JSONResponse:
    """Whether the broker and the store answer, and how many workers are alive: what the
    background probes found, at most HEALTH_PROBE_INTERVAL_S old (`api/health.py`)."""
    body = monitor.report() if monitor.running else await run_in_threadpool(monitor.report)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


@router.get("/live")
async def live() -> Liveness:
    """The process answers: the liveness probe. It asks nothing of the store or the
    broker, so an outage of either never gets every API restarted at once."""
    return Liveness()


@router.get(
    "/ready",
    responses={
        200: {"model": Readiness, "description": "Ready: takes jobs and answers reads"},
        503: {"model": Readiness, "description": "Not ready: `missing` says why"},
    },
)
async def ready(monitor: HealthDep) -> JSONResponse:
    """The readiness probe: the store and the broker answer. No live worker is needed:
    jobs queue until one comes, and reads work meanwhile. /health stays as it is."""
    body = monitor.report() if monitor.running else await run_in_threadpool(monitor.report)
    missing = [part for part in ("database", "broker") if getattr(body, part) != "ok"]
    answer = Readiness(ready=not missing, missing=missing, workers=body.workers)
    return JSONResponse(answer.model_dump(), status_code=503 if missing else 200)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        401: {"model": ErrorBody, "description": "CHUNKWISE_METRICS_TOKEN is set and not given"},
    },
)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus metrics: this process's requests and submissions, and the store's jobs,
    chunks and workers at this moment. With CHUNKWISE_METRICS_TOKEN set, only for
    `Authorization: Bearer <token>`."""
    if settings.metrics_token and not _bears(request, settings.metrics_token):
        raise AuthenticationError("GET /metrics needs the metrics token (Bearer)")
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _bears(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@router.get("/api/kinds")
async def kinds(settings: SettingsDep, offer: KindOfferDep) -> list[WorkloadKind]:
    """The workload kinds this service runs: parameters' schema with this service's maxima,
    limits and chunk bounds, enough to build a form for a kind no client knows; the package
    each comes from and how many live workers run it. A kind from another package is
    listed only while a live worker runs it."""
    offered = await run_in_threadpool(offer.offered)
    limits = settings.workload_limits()
    chunk_bounds = ChunkBounds(maximum=settings.max_chunks, default=DEFAULT_CHUNKS)
    return [_kind(get_workload(kind), limits, chunk_bounds, workers) for kind, workers in offered]


def _kind(
    workload: Workload[Any], limits: dict[str, int], chunks: ChunkBounds, workers: int
) -> WorkloadKind:
    model = workload.params_model
    schema = copy.deepcopy(model.model_json_schema())
    for name, limit in bounded_fields(model).items():
        field = schema.get("properties", {}).get(name)
        if field is not None:
            field["maximum"] = min(field.get("maximum", limits[limit.name]), limits[limit.name])
    return WorkloadKind(
        kind=workload.kind,
        title=workload.title or workload.kind,
        description=workload.description,
        params_schema=schema,
        limits={limit.name: limits[limit.name] for limit in workload.limits},
        chunks=chunks,
        package=workload_package(workload.kind),
        workers=workers,
    )
