"""Alembic's entry point: migrations run on the connection `chunkwise.store.schema` gives.

That connection is already inside the transaction that holds the schema lock, so the
migrations and the revision stamp commit together with it, or not at all.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from chunkwise.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "chunkwise migrations run through `chunkwise db upgrade` (or any chunkwise process "
        "starting), which hands them a connection; they have no database URL of their own"
    )
# No batch mode: on SQLite it copies a table and drops the old one, and with foreign keys
# on, dropping `jobs` deletes every chunk. A revision SQLite cannot do in place turns
# foreign keys off around its batch operation itself.
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
