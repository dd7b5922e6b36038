"""A request id for every API request: the client's `X-Request-ID` when it is a sane one,
else a new one; it goes on every log line written for the request and back in the answer,
so a client's report and the API's log meet."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

from chunkwise.api.security_headers import sending_headers
from chunkwise.logs import log_context

HEADER = b"x-request-id"
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        request_id = given if SANE_ID.match(given) else uuid.uuid4().hex
        with log_context(request_id=request_id):
            await self.app(scope, receive, sending_headers(send, [(HEADER, request_id.encode())]))
