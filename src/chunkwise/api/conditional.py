"""Conditional requests: an answer that has not changed is named by its ETag, and a client
that already holds it, saying so in If-None-Match, gets a 304 with no body."""

from __future__ import annotations

import hashlib
from http import HTTPStatus
from typing import Annotated

from fastapi import Header
from starlette.responses import Response

IfNoneMatch = Annotated[
    str | None, Header(description="The ETag of the answer the client already holds.")
]
NOT_MODIFIED = {"description": "Not modified: If-None-Match names the answer's current ETag"}


def validated_response(
    body: bytes, *, etag: str, cache_control: str, if_none_match: str | None
) -> Response:
    """The JSON `body` with its ETag, or a 304 without it when If-None-Match names the tag."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag_matches(if_none_match, etag):
        return Response(status_code=HTTPStatus.NOT_MODIFIED, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def etag_of(body: bytes) -> str:
    """A strong entity tag: the same bytes, and only they, give the same tag."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (or is `*`).

    If-None-Match compares weakly (RFC 9110, 13.1.2): `W/"x"` matches `"x"`.
    """
    if if_none_match is None:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip().removeprefix("W/")
        if candidate in ("*", etag):
            return True
    return False
