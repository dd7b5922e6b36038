"""The FastAPI application: `create_app(settings)` wires routes, errors, CORS and limits.

Middleware, outermost first: a request id for the logs and the answer (`request_ids`),
security headers on every answer (`security_headers`),
the Host header is checked against ALLOWED_HOSTS (a page
on another name that resolves to this machine, DNS rebinding, gets 400; the probe paths
are left out, `host_check`), then the body
size, then requests from other sites (`cross_site`), then form bodies are read as JSON,
then CORS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from chunkwise import __version__
from chunkwise.api.accounts import credentials
from chunkwise.api.accounts.rate_limits import RateLimits
from chunkwise.api.cross_site import CrossSiteGuardMiddleware
from chunkwise.api.error_status import http_status
from chunkwise.api.finished_jobs import FinishedJobCache
from chunkwise.api.health import HealthMonitor
from chunkwise.api.host_check import HostCheckMiddleware
from chunkwise.api.kind_offer import KindOffer
from chunkwise.api.metrics import ApiMetrics, RequestTimingMiddleware
from chunkwise.api.progress_feed import ProgressFeed
from chunkwise.api.request_body import (
    BodyLimitMiddleware,
    BodyRefusedError,
    FormBodyAsJsonMiddleware,
)
from chunkwise.api.request_ids import RequestIdMiddleware
from chunkwise.api.routes import (
    auth,
    chunks,
    compat,
    dashboard,
    demo,
    events,
    jobs,
    results,
    stats,
    system,
    workers,
)
from chunkwise.api.security_headers import SecurityHeadersMiddleware
from chunkwise.config import Settings, get_settings, is_loopback
from chunkwise.engine import create_celery
from chunkwise.engine.plugins import load_workloads
from chunkwise.errors import (
    AdmissionRefusedError,
    AuthenticationError,
    ChunkwiseError,
    IdempotencyConflictError,
    InvalidJobError,
)
from chunkwise.store import Store


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for `settings` (the process settings when None)."""
    settings = settings or get_settings()
    refuse_public_without_accounts(settings)
    load_workloads(settings.extra_workloads)
    settings.workload_limits()  # a bad limit setting stops the start, not the first job
    store = Store(settings.resolved_database_url)
    celery = create_celery(settings)
    monitor = HealthMonitor(
        store, celery, ttl_s=settings.worker_ttl_s, interval_s=settings.health_probe_interval_s
    )
    progress_feed = ProgressFeed(store, interval_s=settings.progress_poll_interval_s)
    signing_key = credentials.SigningKey(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.upgrade_schema()
        signing_key()  # read (or made) now, not on the first login
        monitor.start()
        yield
        await progress_feed.stop()
        monitor.stop()
        celery.close()
        store.dispose()

    app = FastAPI(
        title="chunkwise",
        version=__version__,
        summary="Distributed background computation: chunked jobs, live progress, exact results.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.celery = celery
    app.state.finished_jobs = FinishedJobCache(settings.finished_cache_entries)
    app.state.health = monitor
    app.state.kind_offer = KindOffer(
        store, ttl_s=settings.worker_ttl_s, max_age_s=settings.live_kinds_cache_s
    )
    app.state.progress_feed = progress_feed
    app.state.signing_key = signing_key
    app.state.rate_limits = RateLimits(settings)
    app.state.metrics = ApiMetrics(store, celery, ttl_s=settings.worker_ttl_s)
    app.include_router(dashboard.router)
    app.include_router(auth.router)
    app.include_router(demo.router)
    app.include_router(jobs.router)
    app.include_router(chunks.router)
    app.include_router(events.router)
    app.include_router(results.router)
    app.include_router(workers.router)
    app.include_router(stats.router)
    app.include_router(system.router)
    for compat_router in compat.ROUTERS:
        app.include_router(compat_router)
    dashboard.mount_assets(app)
    _add_error_handlers(app)
    _document_validation_as_400(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(RequestTimingMiddleware, metrics=app.state.metrics)
    app.add_middleware(FormBodyAsJsonMiddleware, form_paths=frozenset({auth.LOGIN_PATH}))
    app.add_middleware(CrossSiteGuardMiddleware, allowed_origins=settings.cors_origins)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    app.add_middleware(
        HostCheckMiddleware,
        allowed_hosts=settings.trusted_hosts,
        metrics_need_token=bool(settings.metrics_token),
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app


class PublicWithoutAccountsError(RuntimeError):
    """Raised when the API would serve a non-loopback address with accounts off."""


def refuse_public_without_accounts(settings: Settings) -> None:
    """Accounts off is for a private install: refuse it on an address others can reach,
    unless ALLOW_PUBLIC_NOAUTH says it is meant."""
    exposed = not settings.auth_on and not is_loopback(settings.api_host)
    if exposed and not settings.allow_public_noauth:
        raise PublicWithoutAccountsError(
            f"accounts are off (CHUNKWISE_AUTH_ENABLED=false) but the API binds to "
            f"{settings.api_host}, which other machines can reach; turn accounts on, "
            "or set CHUNKWISE_ALLOW_PUBLIC_NOAUTH=true if that is meant"
        )


def _document_validation_as_400(app: FastAPI) -> None:
    """Say in the OpenAPI document what the API does: invalid input is a 400, not a 422."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operation in _operations(schema):
                responses = operation.get("responses", {})
                if responses.get("422", {}).get("description") == "Validation Error":
                    responses.pop("422")  # FastAPI's; ours (Idempotency-Key) stays
                    responses.setdefault("400", _INVALID_RESPONSE)
            schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
            schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_INVALID_RESPONSE = {
    "description": "Invalid request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in schema.get("paths", {}).values() for op in path.values()]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ChunkwiseError)
    async def chunkwise_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ChunkwiseError)
        status = http_status(exc)
        field = exc.field if isinstance(exc, InvalidJobError) else None
        headers = (
            {"Retry-After": str(exc.retry_after_s)}
            if isinstance(exc, AdmissionRefusedError | IdempotencyConflictError)
            else {"WWW-Authenticate": "Bearer"}
            if isinstance(exc, AuthenticationError)
            else None
        )
        return JSONResponse({"detail": str(exc), "field": field}, status, headers=headers)

    @app.exception_handler(BodyRefusedError)
    async def body_refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyRefusedError)
        body = {"detail": exc.detail, "field": "body"}
        return JSONResponse(body, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        messages, fields = [], []
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                fields.append("body")
                messages.append(f"body: not valid JSON ({error.get('ctx', {}).get('error')})")
                continue
            location = [str(part) for part in error.get("loc", ()) if part != "body"]
            where = ".".join(location) or "body"
            fields.append(where)
            messages.append(f"{where}: {error.get('msg', 'invalid')}")
        field = fields[0] if fields else None
        return JSONResponse({"detail": "; ".join(messages), "field": field}, status_code=400)
