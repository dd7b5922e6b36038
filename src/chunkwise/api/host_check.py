"""The Host header check, with the probe paths left out of it.

The API answers only the host names in ALLOWED_HOSTS, so that a page on another name that
resolves to this machine (DNS rebinding) gets 400. Health checks do not come by a public
name: compose runs them against 127.0.0.1, Kubernetes against the pod's address. Those
paths (PROBE_PATHS) answer whatever the Host header; they carry no data a rebinding page
could use, and they change nothing. So does /metrics when it needs a token
(METRICS_TOKEN): Prometheus scrapes each replica by its address, and a page cannot send
the token.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

PROBE_PATHS = frozenset({"/live", "/ready", "/health"})


METRICS_PATH = "/metrics"


class HostCheckMiddleware(TrustedHostMiddleware):
    """starlette's TrustedHostMiddleware, except on PROBE_PATHS, and on /metrics when
    `metrics_need_token`."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: Sequence[str], metrics_need_token: bool
    ) -> None:
        super().__init__(app, allowed_hosts=allowed_hosts, www_redirect=False)
        self.open_paths = PROBE_PATHS | ({METRICS_PATH} if metrics_need_token else set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
