"""What the store's writes need alike on every backend, written once: the connection under
a session, how many rows a statement changed, and an INSERT that leaves alone the rows
whose key is already there.

Both differ by driver or dialect in a way callers should not see: `Session.execute` types
its result without a row count (only a DML statement's cursor result has one), and
SQLite and PostgreSQL each spell "insert, ignore conflicts" with their own INSERT.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, CursorResult, Insert, Result
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from chunkwise.store.models import Base


def connection_of(session: Session | Connection) -> Connection:
    """The connection a session's statements run on (or the connection itself): the
    per-chunk path runs its statements on a bare connection, with no ORM session."""
    return session if isinstance(session, Connection) else session.connection()


def rows_changed(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (0 for a result that counts none)."""
    return result.rowcount if isinstance(result, CursorResult) else 0


@cache
def insert_ignoring_conflicts(table: type[Base], dialect: str) -> Insert:
    """An INSERT into `table` that skips rows whose key exists, for `dialect`.

    Built once per table and dialect: compiling a statement costs more than running it,
    and the cache inserts thousands of rows a chunk by executemany of this one statement.
    Its rowcount says how many rows went in (0: the key existed), which SQLAlchemy keeps
    for an INSERT only when asked (`preserve_rowcount`): without it PostgreSQL's is -1.
    """
    insert: Insert
    if dialect == "postgresql":
        insert = postgresql_insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        insert = sqlite_insert(table).on_conflict_do_nothing()
    else:
        raise ValueError(f"the job store runs on SQLite or PostgreSQL, not {dialect}")
    return insert.execution_options(preserve_rowcount=True)
