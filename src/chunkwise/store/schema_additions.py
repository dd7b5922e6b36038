"""Bring an existing database up to the tables the code declares, where that is additive.

`create_all` creates missing tables but leaves an existing table as it is, so a store made
by an earlier release would lack a column added since, and every statement naming it would
fail. Columns added since the first release are nullable or carry a default, and indexes
can be built at any time, so both are added here, in the transaction that creates the
schema. Anything else (a changed type, a dropped column) is a migration's work.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Connection, MetaData, inspect, text

log = logging.getLogger(__name__)


def add_missing_columns_and_indexes(connection: Connection, metadata: MetaData) -> None:
    """Add to existing tables the columns and indexes `metadata` declares and they lack."""
    inspector = inspect(connection)
    existing_tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                _add_column(connection, table.name, column)
        indexed = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexed:
                log.info("adding index %s to %s", index.name, table.name)
                index.create(connection)


def _add_column(connection: Connection, table: str, column: Column[object]) -> None:
    """ALTER TABLE ... ADD COLUMN, with the column's default as a constant when it has one."""
    preparer = connection.dialect.identifier_preparer
    kind = column.type.compile(dialect=connection.dialect)
    default = column.default
    constant = getattr(default, "arg", None) if default is not None else None
    clause = ""
    if isinstance(constant, bool | int) and not callable(constant):
        literal = ("TRUE" if constant else "FALSE") if isinstance(constant, bool) else constant
        required = "" if column.nullable else " NOT NULL"
        clause = f"{required} DEFAULT {literal}"
    elif not column.nullable:
        raise RuntimeError(f"cannot add required column {table}.{column.name} without a default")
    log.info("adding column %s.%s", table, column.name)
    connection.execute(
        text(
            f"ALTER TABLE {preparer.quote(table)} "
            f"ADD COLUMN {preparer.quote(column.name)} {kind}{clause}"
        )
    )
