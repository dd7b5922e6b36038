"""The root: the dashboard for browsers, the JSON summary for everything else.

The dashboard is static HTML, CSS and JavaScript shipped in the package (`api/web/`) and
served under /ui/; it reads the same API as any client and follows jobs over Server-Sent
Events. `GET /` picks by the Accept header, so `curl localhost:8000/` keeps its JSON.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from chunkwise import __version__
from chunkwise.workloads import workload_kinds

router = APIRouter(tags=["system"])

WEB_DIR = Path(str(files("chunkwise.api") / "web"))
"""The dashboard's files, inside the installed package."""
ASSETS_PATH = "/ui"


def mount_assets(app: FastAPI) -> None:
    """Serve the dashboard's files under ASSETS_PATH (with ETags, so browsers revalidate)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=WEB_DIR), name="ui")


@router.get(
    "/",
    responses={
        200: {
            "description": "The JSON summary below, or the dashboard's HTML for a client "
            "whose Accept header prefers text/html (a browser).",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
def root(request: Request) -> Response:
    """What this service is and where to go next; the dashboard for browsers."""
    if prefers_html(request.headers.get("accept", "")):
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})
    return JSONResponse(summary())


def summary() -> dict[str, Any]:
    return {
        "name": "chunkwise",
        "version": __version__,
        "docs": "/docs",
        "openapi": "/openapi.json",
        "health": "/health",
        "jobs": "/api/jobs",
        "kinds": workload_kinds(),
        "dashboard": "/",
    }


def prefers_html(accept: str) -> bool:
    """Whether an Accept header ranks text/html above JSON (and names it at all)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *options = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[media.lower()] = max(quality, weights.get(media.lower(), 0.0))
    html = weights.get("text/html", 0.0)
    json_weight = max(weights.get("application/json", 0.0), weights.get("*/*", 0.0) * 0.999)
    return html > 0 and html >= json_weight
