"""Request bodies before any route reads them: a size limit, safe JSON, and JSON by default.

The first read of a body gives it whole (it is at most `MAX_BODY_BYTES`), checked: past the
limit it raises a 413, whether the Content-Length says so or the body streams without one
(a route reading a streamed body would otherwise report only "There was an error parsing
the body"); a JSON body that nests too deep, repeats a key or holds an integer too long to
read raises a 400 before any parser recurses into it (`json_body`). The refusal is raised
where the route reads its body, as a `BodyRefusedError`, so the app's handler words it, or
a seed surface in its own shape. A route that reads no body is not refused for one, and
GET, HEAD and OPTIONS bodies are left alone: no route reads them, and a streaming answer
reads on for the client's disconnect.

`curl -d '{...}'` labels its body application/x-www-form-urlencoded. The API takes no
forms, so such a body on an /api/ route is read as the JSON it almost always is. A web
page can send such a body to any address without a CORS preflight, so
`CrossSiteGuardMiddleware` (in `cross_site`), which runs first, refuses form bodies that
come from another site before they get here.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chunkwise.api.json_body import JsonBodyError, check_json_body

UNREAD_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyRefusedError(HTTPException):
    """Raised when a route reads a body that is too large (413) or JSON the API will not
    parse (400). An HTTPException, so FastAPI's own body reading lets it through."""


class BodyLimitMiddleware:
    """Gives the app a `receive` whose first call returns the whole body, checked, or
    raises BodyRefusedError: 413 past `max_bytes`, 400 for JSON `json_body` refuses."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in UNREAD_METHODS:
            receive = self._checking(scope, receive)
        await self.app(scope, receive, send)

    def _checking(self, scope: Scope, receive: Receive) -> Receive:
        first = True

        async def checked() -> Message:
            nonlocal first
            if not first:
                return await receive()  # after the body: the disconnect
            first = False
            return await self._whole_body(scope, receive)

        return checked

    async def _whole_body(self, scope: Scope, receive: Receive) -> Message:
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        parts: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client left before sending it all
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > self.max_bytes:
                raise self._too_large()
            more = message.get("more_body", False)
        body = b"".join(parts)
        if body and not headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            try:
                check_json_body(body, max_depth=self.max_json_depth)
            except JsonBodyError as exc:
                raise BodyRefusedError(400, str(exc)) from None
        return {"type": "http.request", "body": body, "more_body": False}

    def _too_large(self) -> BodyRefusedError:
        message = f"request body is larger than {self.max_bytes} bytes (CHUNKWISE_MAX_BODY_BYTES)"
        # The rest of the body is not read, so the connection cannot carry another request.
        return BodyRefusedError(413, message, headers={"Connection": "close"})


FORM_TYPE = b"application/x-www-form-urlencoded"


def is_form_type(content_type: bytes) -> bool:
    """Whether a Content-Type header value labels a form-encoded body."""
    return content_type.split(b";")[0].strip().lower() == FORM_TYPE


class FormBodyAsJsonMiddleware:
    """Relabels a form-encoded body as application/json (`curl -d` sends JSON labelled as
    a form), on every route but those that take a real form; there, only a body that is
    a JSON object (a form's never starts with `{`), so `curl -d '{"email",…}'` signs in."""

    def __init__(self, app: ASGIApp, *, form_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.form_paths = form_paths
        """Routes that take a real form (the OAuth2 password login)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "") in self.form_paths:
            # The whole body in one message: BodyLimitMiddleware's checked first read. Its
            # refusal is raised again where the route reads the body, for the app to word.
            message: Message | BodyRefusedError
            try:
                message = await receive()
            except BodyRefusedError as refused:
                message = refused
            if isinstance(message, dict) and message.get("body", b"").lstrip().startswith(b"{"):
                scope = _as_json(scope)
            receive = _giving_first(message, receive)
        elif scope["type"] == "http":
            scope = _as_json(scope)
        await self.app(scope, receive, send)


def _giving_first(first: Message | BodyRefusedError, receive: Receive) -> Receive:
    """A `receive` that gives (or raises) `first`, taken already, then what the server
    sends next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        if isinstance(first, BodyRefusedError):
            raise first
        return first

    return replay


def _as_json(scope: Scope) -> Scope:
    headers = [
        (name, b"application/json")
        if name == b"content-type" and is_form_type(value)
        else (name, value)
        for name, value in scope["headers"]
    ]
    return {**scope, "headers": headers}
