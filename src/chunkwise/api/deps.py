"""Dependencies the routes ask for: settings, the store, the Celery app, the health
monitor and the kind offer of this API, each read from the app's state.

The getters are `async` on purpose: FastAPI runs a sync dependency on a pool thread, a
hop per dependency per request, for what is an attribute read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from celery import Celery
from fastapi import Depends, Request

from chunkwise.api.health import HealthMonitor
from chunkwise.api.kind_offer import KindOffer
from chunkwise.config import Settings
from chunkwise.store import Store


def _app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
StoreDep = Annotated[Store, Depends(_app_state("store"))]
CeleryDep = Annotated[Celery, Depends(_app_state("celery"))]
HealthDep = Annotated[HealthMonitor, Depends(_app_state("health"))]
KindOfferDep = Annotated[KindOffer, Depends(_app_state("kind_offer"))]
