"""`from chunkwise import Client` works, and `import chunkwise` alone stays light: the
workers import it, and must not load an HTTP client to do so."""

from __future__ import annotations

import pytest

import chunkwise
from chunkwise.client import AsyncClient, Client, JobFailed
from tests.test_layering import modules_loaded_by


def test_the_client_is_importable_from_the_package() -> None:
    assert (chunkwise.Client, chunkwise.AsyncClient, chunkwise.JobFailed) == (
        Client,
        AsyncClient,
        JobFailed,
    )
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = chunkwise.Nothing


@pytest.mark.integration
def test_importing_the_package_loads_no_client() -> None:
    loaded = modules_loaded_by("import chunkwise", ("httpx", "pydantic", "chunkwise."))
    assert loaded == []
    loaded = modules_loaded_by("from chunkwise import Client", ("httpx", "chunkwise.client"))
    assert "httpx" in loaded and "chunkwise.client.sync" in loaded
