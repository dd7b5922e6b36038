"""Every error chunkwise raises has its HTTP status in one table (`api/error_status.py`),
and an error outside it gets a status, never a StopIteration (issue 29, item 4)."""

from __future__ import annotations

import logging

import pytest

from chunkwise import errors
from chunkwise.api.error_status import STATUS_BY_ERROR, UNMAPPED_STATUS, http_status
from chunkwise.errors import ChunkwiseError, InvalidJobError, StoreUnavailableError


def error_tree(root: type[ChunkwiseError]) -> list[type[ChunkwiseError]]:
    """Every class below `root`, at any depth, in the order they are met."""
    found, stack = [], list(root.__subclasses__())
    while stack:
        kind = stack.pop(0)
        found.append(kind)
        stack.extend(kind.__subclasses__())
    return found


ERRORS = [kind for kind in error_tree(ChunkwiseError) if kind.__module__ == errors.__name__]


def test_the_tree_is_found_whole() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, ChunkwiseError)
    }
    assert set(ERRORS) == defined - {ChunkwiseError}
    assert errors.StoreOutageError in ERRORS  # three levels down


@pytest.mark.parametrize("kind", ERRORS, ids=lambda kind: kind.__name__)
def test_every_error_has_its_own_row(kind: type[ChunkwiseError]) -> None:
    assert kind in STATUS_BY_ERROR, f"add {kind.__name__} to STATUS_BY_ERROR"
    assert 400 <= STATUS_BY_ERROR[kind] < 600


@pytest.mark.parametrize("kind", ERRORS, ids=lambda kind: kind.__name__)
def test_an_error_below_another_keeps_a_status_of_the_same_class(
    kind: type[ChunkwiseError],
) -> None:
    """A subclass is a kind of its parent: a 503 family stays 503, a 4xx stays 4xx."""
    parent = kind.__mro__[1]
    if parent is not ChunkwiseError:
        assert STATUS_BY_ERROR[kind] // 100 == STATUS_BY_ERROR[parent] // 100


def test_an_error_outside_the_table_is_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Unforeseen(ChunkwiseError):
        pass

    with caplog.at_level(logging.ERROR, logger="chunkwise.api.error_status"):
        assert http_status(Unforeseen("boom")) == UNMAPPED_STATUS == 500
    assert "no HTTP status for Unforeseen" in caplog.text


def test_a_subclass_from_elsewhere_takes_its_nearest_ancestors_row() -> None:
    class PluginInvalid(InvalidJobError):
        pass

    class PluginStoreDown(StoreUnavailableError):
        pass

    assert http_status(PluginInvalid("bad")) == 400
    assert http_status(PluginStoreDown("down")) == 503
