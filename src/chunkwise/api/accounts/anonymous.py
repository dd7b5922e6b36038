"""Callers without a token on the seed surfaces an operator serves anonymously.

Seeds 000, 002, 003 and 004 had no sign-in, so their clients send no token; where accounts
are on, each of their surfaces answers them 401 unless CHUNKWISE_COMPAT_ANONYMOUS names it
(`000,002,003,004`). On a surface it names, a request without a token is an
`AnonymousCaller`: no account, and every job it makes belongs to one shared owner,
`ANONYMOUS_OWNER`, so an anonymous client reads the jobs anonymous clients made and no
one else's, and no signed-in user (admins aside) reads theirs. Their jobs pass the same
guard as every job (`api/routes/jobs.py:make_job`): the job rate limit counted per client
IP, and admission with the per-user quota, which the anonymous owner's jobs share. A
request that sends a token is signed in as usual, on any surface.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from chunkwise.api.accounts.caller import Caller, current_caller, presented_token

ANONYMOUS_OWNER = uuid.UUID("00000000-0000-4000-8000-00000000a000")
"""The owner of every job made on an anonymous surface: no account has this id (an
account's id is a random UUID4, and this one is fixed)."""


@dataclass(frozen=True)
class AnonymousCaller(Caller):
    """A caller without a token on a surface served anonymously."""

    @property
    def owner_id(self) -> uuid.UUID | None:
        return ANONYMOUS_OWNER


def seed_caller(seed: str) -> Callable[[Request], Awaitable[Caller]]:
    """The dependency that resolves the caller on seed `seed`'s surface ("000" to "004"):
    anonymous where accounts are on, no token is sent and COMPAT_ANONYMOUS names the
    seed; else as everywhere (`current_caller`: 401 without a token where accounts are on)."""

    async def caller(request: Request) -> Caller:
        settings = request.app.state.settings
        anonymous = settings.auth_on and seed in settings.compat_anonymous
        if anonymous and presented_token(request)[0] is None:
            return AnonymousCaller(None, auth_on=True)
        return await current_caller(request)

    return caller
