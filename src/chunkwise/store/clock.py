"""The database's clock: the one clock every process of a deployment agrees on.

Leases compare a worker's last heartbeat with "now minus the TTL". If each process wrote
and compared with its own clock, a host whose clock is off by more than the TTL would
reap live peers (clock ahead) or never reap dead ones (clock behind). So every lease
timestamp, and every comparison with one, is computed by the database in SQL:
`db_now(offset_s)`.

PostgreSQL: `statement_timestamp()`, the start of the current statement, so a long
transaction does not see time stand still. SQLite: `strftime(... 'now')`, the clock of
the one host that holds the file, rendered as the very text SQLAlchemy stores for a
DateTime ("YYYY-MM-DD HH:MM:SS.ffffff"): SQLite compares these columns as text, so the
expression must have the same shape to order correctly. SQLite's `%f` gives milliseconds
only ("SS.SSS"); three zeros pad it to the six digits stored, because a shorter string
would sort before every stored value of the same millisecond.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, literal, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from chunkwise.store.models import UTCDateTime


class db_now(FunctionElement[datetime]):
    """The database's current UTC time plus `offset_s` seconds, as a SQL expression.

    The offset is a bound parameter, so statements built once (and SQLAlchemy's
    statement cache) stay correct whatever offset each call passes.
    """

    type = UTCDateTime()
    name = "db_now"
    inherit_cache = True

    def __init__(self, offset_s: float = 0.0) -> None:
        super().__init__(literal(float(offset_s), Float()))


@compiles(db_now)
def _unsupported(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"db_now() has no rendering for {compiler.dialect.name}")


@compiles(db_now, "postgresql")
def _postgresql(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    offset = compiler.process(element.clauses, **kw)
    return f"(statement_timestamp() + make_interval(secs => {offset}))"


@compiles(db_now, "sqlite")
def _sqlite(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    offset = compiler.process(element.clauses, **kw)
    shift = f"printf('%+.6f seconds', {offset})"
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', {shift}) || '000')"


def database_now(session: Session) -> datetime:
    """The database's current time, read once, for a value Python must hold as well.

    A SQLite file is shared by the processes of one host only, and SQLite's 'now' is that
    host's clock read to the millisecond; Python reads the same clock to the microsecond,
    which keeps apart (and in order) the jobs one process creates within a millisecond.
    """
    if session.get_bind().dialect.name == "sqlite":
        return datetime.now(UTC)
    now: datetime | None = session.scalar(select(db_now()))
    if now is None:  # pragma: no cover - a SELECT of an expression always returns a row
        raise RuntimeError("the database returned no time")
    return now.astimezone(UTC)


class seconds_between(FunctionElement[float]):
    """Seconds from one timestamp column to another, as a SQL expression: what an average
    duration over many rows needs, computed where the rows are."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(start, end)


@compiles(seconds_between)
def _seconds_unsupported(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"seconds_between() has no rendering for {compiler.dialect.name}")


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"
