"""The HTTP API."""

from chunkwise.api.app import create_app

__all__ = ["create_app"]
