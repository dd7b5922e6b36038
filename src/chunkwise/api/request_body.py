"""Request bodies before any route reads them: a size limit, and JSON by default.

`curl -d '{...}'` labels its body application/x-www-form-urlencoded. The API takes no
forms, so such a body on an /api/ route is read as the JSON it almost always is. A web
page can send such a body to any address without a CORS preflight, so
`CrossSiteGuardMiddleware` (in `cross_site`), which runs first, refuses form bodies that
come from another site before they get here.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    """Raised inside `receive` when a streamed body passes the limit."""


class BodyLimitMiddleware:
    """Answers 400 to a body larger than `max_bytes`, by its Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLargeError
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLargeError:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"request body is larger than {self.max_bytes} bytes", "field": "body"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


FORM_TYPE = b"application/x-www-form-urlencoded"


def is_form_type(content_type: bytes) -> bool:
    """Whether a Content-Type header value labels a form-encoded body."""
    return content_type.split(b";")[0].strip().lower() == FORM_TYPE


class FormBodyAsJsonMiddleware:
    """Relabels a form-encoded body as application/json (`curl -d` sends JSON labelled as
    a form), on every route but those that take a real form."""

    def __init__(self, app: ASGIApp, *, form_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.form_paths = form_paths
        """Routes that take a real form (the OAuth2 password login): left as sent."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path not in self.form_paths:
            headers = [
                (name, b"application/json")
                if name == b"content-type" and is_form_type(value)
                else (name, value)
                for name, value in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
