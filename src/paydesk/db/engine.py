"""Engines for SQLite and PostgreSQL behind one :class:`Database`.

SQLite: WAL journal, foreign keys on, a busy timeout, and every write transaction opened with
``BEGIN IMMEDIATE``: the write lock is taken at the start, so two writers never both read and
then deadlock on the upgrade (the source of "database is locked" errors); they queue instead.
Read-only units of work open a deferred transaction and run beside the writer (WAL).

PostgreSQL: psycopg 3, which prepares repeated statements server-side.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from paydesk.core.settings import Settings

SQLITE_BUSY_TIMEOUT_S = 60
READ_ONLY_OPTION = "paydesk_read_only"


class Database:
    """The engine of one database, for writes and for read-only work."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._ensure_sqlite_dir(url)
            # A small pool: opening a connection per transaction costs the PRAGMAs and, when
            # the last connection closes, a WAL checkpoint (measured: 6.8 ms vs 1.0 ms a
            # journal). One writer at a time is enforced by BEGIN IMMEDIATE, not by the pool.
            self.engine = sa.create_engine(
                url,
                echo=echo,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=pool_size,
            )
            _configure_sqlite(self.engine)
        else:
            # No pre-ping (a round trip per transaction); connections are recycled instead,
            # and a connection broken by a database restart fails one request with the
            # transient 503 database_unavailable, after which the pool is renewed.
            self.engine = sa.create_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
            )
        self.read_engine = self.engine.execution_options(**{READ_ONLY_OPTION: True})

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        # Every admitted request may hold a connection; the worker and the channels'
        # notifications need a few more.
        return cls(settings.database_url, pool_size=max(10, settings.requests_concurrent_max))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _ensure_sqlite_dir(url: str) -> None:
        from pathlib import Path

        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, open transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
