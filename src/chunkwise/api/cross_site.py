"""Requests that other web sites make through a visitor's browser are refused at the door.

A browser lets any page send a "simple" request, such as a form POST, to any address
without asking the server first (no CORS preflight), and CORS only hides the answer from
the page, after the job was submitted. The API also reads a form-labelled body as JSON
(see `request_body`). So the API checks for itself where a request comes from, using
what browsers always send and other clients never do:

- an unsafe request (POST, PUT, PATCH, DELETE) with an `Origin` header passes only from
  the API's own origin or one of CORS_ORIGINS; browsers send `Origin` on every
  cross-origin request of these methods;
- a form-labelled body is read as JSON only when the request is not cross-site: its
  `Origin`, if any, is allowed, and `Sec-Fetch-Site` is absent, `none` (the user's own
  action) or `same-origin`.

`curl` and scripts send neither header, so `curl -d '{...}'` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from chunkwise.api.request_body import is_form_type

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_CROSS_SITE = frozenset({"none", "same-origin"})
"""`Sec-Fetch-Site` values under which a browser request comes from the API's own pages."""


class CrossSiteGuardMiddleware:
    """Answers 403 to an unsafe or form-encoded request another site's page has sent."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.allow_any = "*" in allowed_origins
        self.allowed = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.refusal(scope) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"detail": refusal, "field": None}, status_code=403)
        await response(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None if it may go on."""
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        form = is_form_type(headers.get("content-type", "").encode("latin-1"))
        foreign = origin is not None and not self._allowed_origin(origin, scope, headers)
        if foreign and (form or scope["method"] in UNSAFE_METHODS):
            return (
                f"cross-site request refused: origin {origin!r} is neither this API's "
                "own nor one of CHUNKWISE_CORS_ORIGINS"
            )
        fetch_site = headers.get("sec-fetch-site")
        if form and fetch_site is not None and fetch_site.lower() not in NOT_CROSS_SITE:
            return (
                f"cross-site request refused: a form-encoded body from a {fetch_site} page; "
                "send the job as application/json"
            )
        return None

    def _allowed_origin(self, origin: str, scope: Scope, headers: Headers) -> bool:
        """Whether `origin` is the API's own (scheme and Host of this request) or configured."""
        origin = origin.rstrip("/").lower()
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        return self.allow_any or origin == own or origin in self.allowed
