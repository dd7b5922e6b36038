"""Each seed surface's errors in that seed's own shape, with the names its clients use.

chunkwise answers an error once, in its global handlers (`api/app.py`): a status, headers
(Retry-After on a 429, WWW-Authenticate on a 401) and `{"detail", "field"}`, where `field`
and the message name chunkwise's fields (`params.n`). A seed's client expects its own body
(`{"message"}`, `{"code", "message", "details", "request_id"}`, ...) and its own names (`n`,
`data.amount`, `end_num`). A surface's routes are built with `shape.route_class()`: every
error raised while one of them answers (a body that fails validation, a missing token, a
refused job, a job not found) goes through the global handler first, so the status and
headers stay chunkwise's, and is then rewritten into the seed's body and names here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from chunkwise.errors import ChunkwiseError

Body = Callable[[Request, int, str, str | None], dict[str, Any]]
"""The seed's error body for (request, status, message, field)."""
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
RESHAPED = (ChunkwiseError, RequestValidationError, HTTPException)
"""What a seed route's errors are: chunkwise's own, a request that fails validation, and
the framework's (a body that cannot be parsed)."""
KEPT_HEADERS = ("retry-after", "www-authenticate")


@dataclass(frozen=True)
class ErrorShape:
    """One seed's error answers."""

    body: Body
    fields: Mapping[str, str] = field(default_factory=dict)
    """chunkwise's field names (`params.n`, `query.end_num`) and the seed's for each."""
    not_found: str | None = None
    """The seed's own words for a 404, in place of chunkwise's."""

    def answer(
        self,
        request: Request,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        """The seed's answer for an error chunkwise words as (`message`, `field`)."""
        if status == 404 and self.not_found is not None:
            message = self.not_found
        seed_field = None if field is None else self.fields.get(field, field)
        body = self.body(request, status, self._renamed(message), seed_field)
        return JSONResponse(body, status_code=status, headers=dict(headers or {}))

    def reshape(self, request: Request, standard: Response) -> Response:
        """chunkwise's error answer `standard`, `{"detail", "field"}`, in the seed's shape."""
        try:
            decoded: Any = json.loads(bytes(standard.body))
        except ValueError:
            decoded = {"detail": bytes(standard.body).decode(errors="replace")}
        detail = decoded.get("detail") if isinstance(decoded, dict) else decoded
        given_field = decoded.get("field") if isinstance(decoded, dict) else None
        message = detail if isinstance(detail, str) else json.dumps(detail)
        headers = {name: value for name, value in standard.headers.items() if name in KEPT_HEADERS}
        seed_field = given_field if isinstance(given_field, str) else None
        return self.answer(
            request, standard.status_code, message, field=seed_field, headers=headers
        )

    def route_class(self) -> type[APIRoute]:
        """A route class whose errors come out in this shape."""
        shape = self

        class SeedRoute(APIRoute):
            def get_route_handler(self) -> Handler:
                handle = super().get_route_handler()

                async def handler(request: Request) -> Response:
                    try:
                        return await handle(request)
                    except RESHAPED as exc:
                        return shape.reshape(request, await standard_answer(request, exc))

                return handler

        return SeedRoute

    @cached_property
    def _field_names(self) -> re.Pattern[str] | None:
        """chunkwise's field names where a message mentions them (`params.n: ...`)."""
        if not self.fields:
            return None
        names = "|".join(map(re.escape, sorted(self.fields, key=len, reverse=True)))
        return re.compile(rf"(?<![\w.])({names})(?![\w])")

    def _renamed(self, message: str) -> str:
        pattern = self._field_names
        if pattern is None:
            return message
        return pattern.sub(lambda found: self.fields[found.group(1)], message)


async def standard_answer(request: Request, exc: Exception) -> Response:
    """chunkwise's own answer to `exc`, from the handler the app registered for its type."""
    handlers = request.app.exception_handlers
    handler = next((handlers[kind] for kind in type(exc).__mro__ if kind in handlers), None)
    if handler is None:
        raise exc
    response: Response = await handler(request, exc)
    return response


def detail_body(request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
    """FastAPI's error body, `{"detail"}`, with the field chunkwise adds."""
    return {"detail": message, "field": field}


def message_body(request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
    """`{"message"}`: Flask-style seeds."""
    return {"message": message}
