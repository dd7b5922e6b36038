"""Connections to the job store: one `Store` per database URL, SQLite or PostgreSQL.

SQLite is shared by the API and every worker process, so it runs in WAL mode (readers
never block the writer) and every writing transaction starts with BEGIN IMMEDIATE: a
deferred transaction that reads first and writes later can fail at once with "database
is locked" when another process wrote in between, instead of waiting its turn.

Engines hide bound parameters from error messages (`hide_parameters`): a failed statement
can carry partials, job parameters or whole cache batches, and its message ends up in
logs and in a job's error.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from chunkwise.errors import StoreOutageError, StoreUnavailableError
from chunkwise.store.fork_guard import ForkGuard
from chunkwise.store.schema import SchemaChange, current_revision, upgrade_schema

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_LOCK_RETRY_FIRST_S = 0.00005
WRITE_LOCK_RETRY_MAX_S = 0.001
"""A writer waiting for SQLite's write lock tries again after 50 us, doubling to 1 ms."""
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
"""Reads come from the file mapped in memory rather than a read() call per page; SQLite
still writes through its journal (the map is read-only), so durability is unchanged."""
_IMMEDIATE = "chunkwise_immediate"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside the database, each as private as the database."""

SCHEMA_LOCK_KEY = 0x63_68_75_6E_6B_77
"""PostgreSQL advisory lock taken while upgrading the schema ("chunkw" in ASCII): any
constant works, as long as every chunkwise process uses the same one."""
SCHEMA_ATTEMPTS = 5
"""Tries at upgrading the SQLite schema while another process holds the file locked."""
SCHEMA_RETRY_PAUSE_S = 0.2

STORE_DOES_NOT_ANSWER = "the job store does not answer"

# Server states that say the connection, not the statement, failed: SQLSTATE class 08
# (connection exception), and the server shutting down, crashing or still starting.
_PG_CONNECTION_CLASS = "08"
_PG_SERVER_GOING = frozenset({"57P01", "57P02", "57P03"})
# A deadlock or serialization failure aborts one transaction; running it again succeeds.
_PG_RUN_AGAIN = frozenset({"40001", "40P01"})
# SQLite primary result codes for a file another process holds (busy, locked), or that
# cannot be opened now; the extended code's low byte is the primary code.
_SQLITE_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN}
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the store cannot be reached now, as opposed to a bad statement.

    True for: a connection SQLAlchemy found dead (`connection_invalidated`); a connection
    attempt that failed (psycopg gives it no SQLSTATE, and no statement was running); a
    PostgreSQL connection exception (SQLSTATE 08xxx) or server shutdown, crash or start
    (57P01-57P03); SQLite "database is locked" or "busy" once the busy timeout ran out,
    and "unable to open database file"; a pool with no connection to lend in time.
    Everything else is about the statement and would fail again the same way: too many
    variables, data, integrity and programming errors, a cancelled statement.
    """
    if isinstance(exc, StoreUnavailableError | PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code is not None and (code & 0xFF) in _SQLITE_UNAVAILABLE
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_PG_CONNECTION_CLASS) or sqlstate in _PG_SERVER_GOING
    return isinstance(exc, OperationalError) and exc.statement is None


def is_transient(exc: BaseException) -> bool:
    """Whether running the same store work again may succeed: the store is unreachable
    or busy (`is_unavailable`), or PostgreSQL aborted the transaction for a deadlock or a
    serialization failure. False for a deterministic database error, which would fail
    again, and for StoreOutageError, the verdict that the store stayed away too long.
    """
    if isinstance(exc, StoreOutageError):
        return False
    if is_unavailable(exc):
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    return getattr(orig, "sqlstate", None) in _PG_RUN_AGAIN


def _configure_sqlite(engine: Engine) -> None:
    """A busy timeout, WAL, and explicit BEGIN so writers can ask for BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching a new file to WAL takes a write lock, and
        # without a timeout a process that meets another one's lock fails at once.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_IMMEDIATE, False):
            _begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: Connection) -> None:
    """BEGIN IMMEDIATE, trying for the write lock every WRITE_LOCK_RETRY_MAX_S at most.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, while a write
    here holds the lock for a fraction of a millisecond: a writer that just missed the
    lock sleeps for many writes' time, and one that keeps missing it (the others take
    turns between its sleeps) waits hundreds of milliseconds. Measured with two processes
    recording chunks and one creating jobs on two cores: that handler waited 0.17-0.30 ms
    a transaction on average and up to 430 ms; this loop 0.15 ms and up to 80 ms (what
    is left is mostly the holder waiting for a core). The handler is off while this polls
    and back for every other statement; after SQLITE_BUSY_TIMEOUT_MS, the last try fails
    as SQLite's own would.
    """
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("no SQLite connection to begin on")
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause_s = WRITE_LOCK_RETRY_FIRST_S
    driver.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    break
            time.sleep(pause_s * random.uniform(0.5, 1.5))
            pause_s = min(pause_s * 2, WRITE_LOCK_RETRY_MAX_S)
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # raises, as a SQLAlchemy error
    finally:
        driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def keep_sqlite_file_private(path: Path) -> None:
    """Make the SQLite file at `path` readable by its owner alone (0600), in a folder made
    0700 when this makes it: the store holds every user's jobs, emails and hashes.

    The file is created empty (SQLite takes an empty file for an empty database) before
    SQLite opens it, because SQLite creates `-wal` and `-shm` with the database file's
    own mode, whatever the umask: a private database file keeps every later WAL private,
    where a umask would have to be held around each connection. A file, WAL or shared
    memory file from an older install is tightened here too, at every process's start.
    A file another user owns cannot be changed; that is logged, not fatal.
    """
    try:
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass
    except OSError as exc:  # SQLite's own open says it better (and fails as unavailable)
        log.warning("could not create %s as a private file: %s", path, exc)
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)):
        try:
            if stat.S_IMODE(file.stat().st_mode) != PRIVATE_FILE_MODE:
                file.chmod(PRIVATE_FILE_MODE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not make %s private (mode 0600): %s", file, exc)


def build_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite the file is made private and WAL is set up."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        keep_sqlite_file_private(Path(parsed.database))
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
    _configure_sqlite(engine)
    return engine


class Store:
    """The job store at one URL: schema creation and read or write sessions.

    The engine is built on first use, so a Store can be made before a process forks
    (Celery prefork) and each child opens its own connections.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._readers: sessionmaker[Session] | None = None
        self._writers: sessionmaker[Session] | None = None
        self._immediate: Engine | None = None
        self._fork_guard: ForkGuard | None = None

    @property
    def engine(self) -> Engine:
        return self._sessionmakers()[0]

    def _sessionmakers(
        self,
    ) -> tuple[Engine, sessionmaker[Session], sessionmaker[Session], Engine]:
        """The engine, reader and writer sessions, and the engine that writers use."""
        if (
            self._engine is None
            or self._readers is None
            or self._writers is None
            or self._immediate is None
        ):
            self._engine = build_engine(self.url)
            self._immediate = self._engine.execution_options(**{_IMMEDIATE: True})
            self._readers = sessionmaker(self._engine, expire_on_commit=False)
            self._writers = sessionmaker(self._immediate, expire_on_commit=False)
        return self._engine, self._readers, self._writers, self._immediate

    @property
    def backend(self) -> str:
        return make_url(self.url).get_backend_name()

    def upgrade_schema(self) -> SchemaChange:
        """Make a new store's schema, or bring an older store's to this release's revision.

        Every process calls this as it starts, often at the same moment on a new
        database, so one upgrades under the schema lock and the others wait, then find
        the store at the head revision (see `chunkwise.store.schema`).
        """
        with self._unavailable_as_error():
            if self.backend == "postgresql":
                return self._upgrade_schema_postgresql()
            return self._upgrade_schema_sqlite()

    def schema_revision(self) -> str | None:
        """The revision the store's schema is stamped with (None: none yet)."""
        with self._unavailable_as_error(), self.engine.connect() as connection:
            return current_revision(connection)

    def _upgrade_schema_postgresql(self) -> SchemaChange:
        # CREATE TABLE of a missing table races: two sessions both see it missing and
        # the second fails on the catalog's unique index. The lock is released at commit.
        with self.engine.begin() as connection:
            connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            return upgrade_schema(connection)

    def _upgrade_schema_sqlite(self) -> SchemaChange:
        # BEGIN IMMEDIATE makes the check of the revision and the upgrade one writer's
        # turn. SQLite does not always wait out the busy timeout (a WAL file being
        # recovered or set up answers "locked" at once), hence a few tries.
        immediate = self.engine.execution_options(**{_IMMEDIATE: True})
        for attempt in range(1, SCHEMA_ATTEMPTS + 1):
            try:
                with immediate.begin() as connection:
                    return upgrade_schema(connection)
            except OperationalError as exc:
                if attempt == SCHEMA_ATTEMPTS or not is_unavailable(exc):
                    raise
                log.info("schema upgrade found the store busy (try %d): %s", attempt, exc.orig)
                time.sleep(SCHEMA_RETRY_PAUSE_S * attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads; it writes nothing and commits nothing."""
        readers = self._sessionmakers()[1]
        with self._fork_guarded(), self._unavailable_as_error(), readers() as session:
            yield session

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """A session whose work commits together on exit, or rolls back on an error."""
        writers = self._sessionmakers()[2]
        with (
            self._fork_guarded(),
            self._unavailable_as_error(),
            writers() as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A connection whose statements commit together on exit, or roll back on an error.

        `writer()` without the ORM session: for the per-chunk path, where a session's
        bookkeeping costs more than the statements it runs. A `Session(connection)` made
        inside joins the same transaction.
        """
        immediate = self._sessionmakers()[3]
        with self._fork_guarded(), self._unavailable_as_error(), immediate.begin() as connection:
            yield connection

    def guard_forks(self) -> None:
        """Make fork() wait for open sessions (see `store.fork_guard`); SQLite only.

        For a process whose threads use the store while it forks children.
        """
        if self.backend == "sqlite" and self._fork_guard is None:
            self._fork_guard = ForkGuard()

    def _fork_guarded(self) -> AbstractContextManager[None]:
        return nullcontext() if self._fork_guard is None else self._fork_guard.held()

    def reset_after_fork(self) -> None:
        """Drop connections inherited from a parent process without closing them for it."""
        if self._engine is not None:
            self._engine.dispose(close=False)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        """Connection-level failures become StoreUnavailableError, without the driver's
        text: it can name hosts, users and databases. That text goes to the log."""
        try:
            yield
        except (DBAPIError, PoolTimeoutError) as exc:
            if not is_unavailable(exc):
                raise
            log.warning("%s: %s", STORE_DOES_NOT_ANSWER, getattr(exc, "orig", None) or exc)
            raise StoreUnavailableError(STORE_DOES_NOT_ANSWER) from exc
