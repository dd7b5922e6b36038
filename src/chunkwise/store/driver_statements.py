"""Hot statements run on SQLite's own cursor, compiled once by SQLAlchemy.

Every chunk runs two statements, and on SQLite, where a statement costs tens of
microseconds, SQLAlchemy's execution around it (parameter construction, an execution
context, a result object) costs four times as much again: about 0.3 ms a chunk, measured,
on a machine whose cores the worker's own main process needs. A `DriverStatement` keeps
SQLAlchemy for what it is good at here, the SQL text for the dialect and each column
type's conversion of values in and out, computed once, and runs the text on the DBAPI
cursor of the SQLAlchemy connection, inside its transaction.

SQLite only. On PostgreSQL a statement's round trip dwarfs this cost, and SQLAlchemy's
execution is what notices a dropped connection and takes it out of the pool; there
`execute` is plain `Connection.execute`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.expression import Executable, ReturnsRows

Convert = Callable[[Any], Any] | None
_GIVEN = object()
"""Marks a parameter the caller supplies, as opposed to a constant of the statement."""


@dataclass(frozen=True)
class DriverResult:
    rows: list[tuple[Any, ...]]
    rowcount: int


@dataclass(frozen=True)
class _Compiled:
    sql: str
    parameters: tuple[tuple[str, Any, Convert], ...]
    """Each positional parameter: its name, its constant (or _GIVEN), its conversion."""
    columns: tuple[Convert, ...]


class DriverStatement:
    """A statement executed on the driver's cursor when the connection is SQLite's."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> DriverResult:
        """Run the statement with `parameters` in the connection's transaction."""
        if connection.dialect.name != "sqlite":
            result = connection.execute(self.statement, dict(parameters))
            rows = [tuple(row) for row in result] if result.returns_rows else []
            return DriverResult(rows, result.rowcount)
        compiled = self._compiled or self._compile(connection.dialect)
        values = [
            _converted(parameters[name] if constant is _GIVEN else constant, convert)
            for name, constant, convert in compiled.parameters
        ]
        driver = connection.connection.driver_connection
        assert driver is not None, "a checked-out connection has its driver connection"
        try:
            cursor = driver.execute(compiled.sql, values)
            raw_rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, None, exc, sqlite3.Error, hide_parameters=True
            ) from exc
        columns = compiled.columns
        rows = [
            tuple(_converted(value, convert) for value, convert in zip(row, columns, strict=True))
            for row in raw_rows
        ]
        return DriverResult(rows, cursor.rowcount)

    def _compile(self, dialect: Dialect) -> _Compiled:
        assert isinstance(self.statement, ClauseElement)
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        order: Sequence[str] = compiled.positiontup or ()
        binds = compiled.binds
        parameters = tuple(
            (
                name,
                _GIVEN if binds[name].required else binds[name].effective_value,
                binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in order
        )
        returned: Sequence[ColumnElement[Any]] = (
            list(self.statement.exported_columns) if isinstance(self.statement, ReturnsRows) else []
        )
        columns = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
        )
        self._compiled = _Compiled(compiled.string, parameters, columns)
        return self._compiled


def _converted(value: Any, convert: Convert) -> Any:
    return value if convert is None else convert(value)
