"""Dependencies the routes ask for: settings, the store and the Celery app of this API."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request

from chunkwise.api.health import HealthMonitor
from chunkwise.config import Settings
from chunkwise.store import Store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _celery(request: Request) -> Celery:
    app: Celery = request.app.state.celery
    return app


def _health(request: Request) -> HealthMonitor:
    monitor: HealthMonitor = request.app.state.health
    return monitor


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]
CeleryDep = Annotated[Celery, Depends(_celery)]
HealthDep = Annotated[HealthMonitor, Depends(_health)]
