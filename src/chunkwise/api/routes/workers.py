"""The live worker nodes: what the dashboard's workers view lists."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from chunkwise.api.accounts.caller import CallerDep
from chunkwise.api.deps import SettingsDep, StoreDep
from chunkwise.api.routes.jobs import ERRORS
from chunkwise.schemas import WorkerList, WorkerView
from chunkwise.store import Store
from chunkwise.store.inspection import WorkerRow, live_worker_rows

router = APIRouter(prefix="/api/workers", tags=["workers"])


@router.get("", responses={k: ERRORS[k] for k in (401, 503)})
async def workers(store: StoreDep, settings: SettingsDep, _: CallerDep) -> WorkerList:
    """Workers heard from within CHUNKWISE_WORKER_TTL_S, with their load and progress
    (signed-in callers only, where accounts are on: it names the hosts)."""
    rows = await run_in_threadpool(_read, store, settings.worker_ttl_s)
    return WorkerList(items=[_view(row) for row in rows])


def _read(store: Store, ttl_s: float) -> list[WorkerRow]:
    with store.reader() as session:
        return live_worker_rows(session, ttl_s=ttl_s)


def _view(row: WorkerRow) -> WorkerView:
    return WorkerView(
        name=row.name,
        host=row.name.rpartition("@")[2] or row.name,
        concurrency=row.processes,
        in_flight=len(row.holding),
        chunks_done=row.chunks_done,
        started_at=row.started_at,
        last_heartbeat=row.heartbeat_at,
        alive=True,
    )
