"""The store's schema: Alembic revisions, applied by every process as it starts.

Any number of API, worker and `up` processes may start at once on one database, new or
made by an older release, so the check and the upgrade happen in one transaction that
holds the schema lock (PostgreSQL's advisory lock, or SQLite's write lock): the first
process upgrades, the others wait for it and then find the store at the head revision.

A new store is made from the models at once (`create_all`) and stamped with the head
revision, which is faster than replaying every revision; a test checks that replaying
them gives the same schema. A store from before the migrations (no revision table) gets
what it lacks added in place (`schema_additions`) and is stamped the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, inspect

from chunkwise.errors import StoreSchemaError
from chunkwise.store.models import Base
from chunkwise.store.schema_additions import add_missing_columns_and_indexes

log = logging.getLogger(__name__)

MIGRATIONS = "chunkwise.store:migrations"
REVISION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """The revision a store was at before an upgrade (None: no revision) and after it."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def migrations_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for chunkwise's revisions, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert head is not None, "chunkwise ships at least one revision"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the store is stamped with; None for a new or pre-migration store."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(connection: Connection) -> SchemaChange:
    """Bring the store on `connection` to the head revision; the caller holds the lock."""
    before = current_revision(connection)
    head = head_revision()
    if before == head:
        return SchemaChange(before, head)
    config = migrations_config(connection)
    if before is None:
        ours = set(inspect(connection).get_table_names()) & set(Base.metadata.tables)
        Base.metadata.create_all(connection)
        if ours:
            log.info("store from before schema revisions: adding what it lacks")
            add_missing_columns_and_indexes(connection, Base.metadata)
        command.stamp(config, head)
    else:
        _known_or_error(before)
        log.info("upgrading the store's schema from revision %s to %s", before, head)
        command.upgrade(config, head)
    return SchemaChange(before, head)


def _known_or_error(revision: str) -> None:
    try:
        known = ScriptDirectory.from_config(migrations_config()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise StoreSchemaError(
            f"the store's schema is at revision {revision}, which this release of chunkwise "
            "does not know: it was made by a newer release; run that release, or upgrade this one"
        )
