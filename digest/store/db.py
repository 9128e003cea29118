"""Engines and sessions for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import ConfigError, DigestError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class DatabaseUnavailable(DigestError):
    """The database could not be reached."""


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite, pre-ping elsewhere."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"DIGEST_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"DIGEST_DATABASE_URL: {parsed.get_backend_name()} is not supported; "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME"
        )
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    # No pre-ping: it costs a round trip on every checkout, and the hot paths (a subscribe,
    # each sent message) check out often. A connection the server dropped fails once, and
    # SQLAlchemy then discards the whole pool; recycling keeps idle ones from going stale.
    return create_engine(parsed, pool_recycle=1800, pool_size=10, connect_args=connect_args)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, open transactions (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Open every transaction with BEGIN IMMEDIATE.

    pysqlite's own implicit BEGIN breaks SAVEPOINTs, and a deferred transaction that reads
    then writes can fail with "database is locked" instead of waiting for the lock.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.instance = uuid.uuid4().hex  # tells caches of two stores with one URL apart
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def check(self) -> None:
        """Raise DatabaseUnavailable unless a trivial query succeeds."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = " ".join(str(exc.orig).split())
            raise DatabaseUnavailable(f"database unreachable: {reason}") from None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


T = TypeVar("T")
log = logging.getLogger(__name__)


def connection_lost(exc: DBAPIError) -> bool:
    """An error a fresh connection and a second try may get past (a dropped connection, a
    server restarting, a lock held too long), as opposed to a mistake in the statement."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def through_outages(
    write: Callable[[], T], *, seconds: float = 30.0, reconnect: Callable[[], None] = lambda: None
) -> T:
    """Run the idempotent `write`, again after a lost connection, for up to `seconds`;
    `reconnect` drops whatever connection the failed try held."""
    deadline = time.monotonic() + seconds
    pause = 0.05
    while True:
        try:
            return write()
        except DBAPIError as exc:
            if not connection_lost(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("database connection lost while recording (%s); retrying",
                        type(exc.orig).__name__)  # fmt: skip
            reconnect()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def keep_statistics(session: Session, at_least: dict[str, int]) -> list[str]:
    """ANALYZE each table the planner believes holds under half the rows it is known to hold
    (`at_least`, by table name); the tables analyzed. PostgreSQL only.

    A table filled in one go (the first morning's deliveries, a bulk import) still has the
    statistics of its empty self until autovacuum comes round, and the plans made from them
    scan the whole table for a handful of rows; every worker keeps such a plan until the
    statistics change. Analyzing as the table doubles costs a few ANALYZEs per edition.
    """
    if session.get_bind().dialect.name != "postgresql" or not at_least:
        return []
    believed: dict[str, float] = {
        name: rows
        for name, rows in session.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(at_least)},
        )
    }
    stale = [name for name, rows in at_least.items() if max(believed.get(name, 0), 0) < rows / 2]
    for name in stale:
        session.execute(text(f'ANALYZE "{name}"'))
    return stale
