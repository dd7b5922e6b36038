"""Split the rows of a multi-row statement, or the keys of an IN list, into batches that
every backend accepts.

Each row of a multi-row INSERT, and each key of an IN list, binds one value per column,
and every backend caps the bound values of one statement: psycopg at 65,535, stock
SQLite builds at 32,766 (999 before SQLite 3.32), some builds at 250,000. A chunk of
pi(10^13) in 8 chunks writes 74,505 cache entries of four columns: as one statement,
298,020 values. So every statement that takes a caller's collection goes through
`batches`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from functools import cache
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

MAX_BOUND_VALUES = 30_000
"""Bound values per statement: below stock SQLite's 32,766 and psycopg's 65,535."""
SPARE_BOUND_VALUES = 16
"""Room for the values a statement binds besides its rows or keys (a timestamp, a job id)."""


@cache
def bound_values_per_statement() -> int:
    """MAX_BOUND_VALUES, or fewer when the SQLite library this Python links allows fewer
    (an older SQLite, or one built with a lower limit)."""
    with closing(sqlite3.connect(":memory:")) as connection:
        sqlite_limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return min(MAX_BOUND_VALUES, sqlite_limit - SPARE_BOUND_VALUES)


def batches(items: Iterable[T], *, columns: int = 1) -> Iterator[list[T]]:
    """`items` in order, in lists whose `len(list) * columns` bound values one statement
    can take; `columns` is how many values each item binds."""
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    size = max(1, bound_values_per_statement() // columns)
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
