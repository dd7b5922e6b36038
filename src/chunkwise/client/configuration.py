"""Where a client connects and with which token, when the caller does not say: the same
settings the CLI reads, so a script and `chunkwise submit` reach the same service as the
same user."""

from __future__ import annotations

from dataclasses import dataclass

from chunkwise.client.token_file import kept_token
from chunkwise.config import get_settings


@dataclass(frozen=True)
class Connection:
    base_url: str
    token: str | None


def resolve(base_url: str | None, token: str | None) -> Connection:
    """The connection for a client's arguments.

    `base_url` None: CHUNKWISE_API_URL, else http://API_HOST:API_PORT. `token` None:
    CHUNKWISE_TOKEN, else the token `chunkwise login` kept, else none; "" sends none.
    Settings are read only for what the arguments leave open.
    """
    if base_url is None or token is None:
        settings = get_settings()
        if base_url is None:
            base_url = settings.resolved_api_url
        if token is None:
            token = settings.token or kept_token()
    return Connection(base_url=base_url.rstrip("/"), token=token or None)
