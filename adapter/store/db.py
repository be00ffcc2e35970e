"""The database the stores run on, and schema migration, for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, inspect, make_url, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapter.store.checkpoints import Checkpointer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite://`` URLs and pick the async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def serves_one_process(url: str) -> bool:
    """SQLite: one process only (its single writer is serialised inside that process)."""
    return normalise_url(url).startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; NORMAL is durable across process crashes
    # and commits without an fsync each time (docs/performance.md#known-traps).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Checkpoints run in a thread (store.checkpoints), not inside a commit on the event loop.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


T = TypeVar("T")


class _NoRows(logging.Filter):
    """At DEBUG SQLAlchemy logs result rows, which hold what shops sent (UserData, Custom): a
    log line never carries them, whatever the level (statement values: hide_parameters)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Row ", "Col "))


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoRows())


class Database:
    """Where the stores run their SQL: each unit of work is a plain function of a connection.

    On SQLite the work runs inline on the event loop, on one connection kept open. SQLite
    answers a primary-key read in microseconds, while handing every cursor call to a thread
    (aiosqlite) costs about a millisecond of hops per query, and a pool checkout per unit of
    work costs more than the read. Inline work also never interleaves, so one process's
    transactions cannot collide on SQLite's single write lock. On PostgreSQL the work runs on
    asyncpg (``run_sync``) and transactions run side by side.
    """

    def __init__(
        self, url: str, *, before_commit: Callable[[Connection], None] | None = None
    ) -> None:
        self.url = normalise_url(url)
        # Runs last in every write transaction (the journal writes the events riding along).
        self._before_commit = before_commit
        self._sqlite: Engine | None = None
        self._kept: Connection | None = None
        self._postgres: AsyncEngine | None = None
        self._checkpoints: Checkpointer | None = None
        if serves_one_process(self.url):
            # hide_parameters: a statement's values (UserData, Custom...) never reach a log line.
            self._sqlite = create_sync_engine(
                self.url.replace("+aiosqlite", "+pysqlite", 1), hide_parameters=True
            )
            event.listen(self._sqlite, "connect", _sqlite_pragmas)
            path = make_url(self.url).database
            if path and path != ":memory:":
                self._checkpoints = Checkpointer(path)
        else:
            self._postgres = create_async_engine(
                self.url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
            )

    @property
    def dialect(self) -> str:
        return "sqlite" if self._sqlite is not None else "postgresql"

    def _sqlite_connection(self) -> Connection:
        assert self._sqlite is not None
        if self._kept is None or self._kept.closed or self._kept.invalidated:
            self._kept = self._sqlite.connect()
        return self._kept

    async def read(self, work: Callable[[Connection], T]) -> T:
        if self._sqlite is not None:
            kept = self._sqlite_connection()
            try:
                return work(kept)
            finally:
                # Ends the read snapshot at once, so WAL checkpoints are never held back.
                kept.rollback()
        assert self._postgres is not None
        async with self._postgres.connect() as conn:
            return await conn.run_sync(work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction: committed if it returns, rolled back if it raises."""
        if self._sqlite is not None:
            kept = self._sqlite_connection()
            with kept.begin():
                result = self._then_commit(kept, work)
            if self._checkpoints is not None:
                serving = kept.connection.driver_connection
                assert isinstance(serving, sqlite3.Connection)
                self._checkpoints.committed(serving)
            return result
        assert self._postgres is not None
        async with self._postgres.begin() as conn:
            return await conn.run_sync(lambda sync: self._then_commit(sync, work))

    def _then_commit(self, conn: Connection, work: Callable[[Connection], T]) -> T:
        result = work(conn)
        if self._before_commit is not None:
            self._before_commit(conn)
        return result

    async def dispose(self) -> None:
        if self._checkpoints is not None:
            # First: the serving connection, closed last, copies what is left and removes the WAL.
            await asyncio.to_thread(self._checkpoints.close)
            self._checkpoints = None
        if self._kept is not None:
            self._kept.close()
            self._kept = None
        if self._sqlite is not None:
            self._sqlite.dispose()
        if self._postgres is not None:
            await self._postgres.dispose()


def head_revision() -> str:
    """The newest migration this code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def schema_revision(db: Database) -> str | None:
    """The migration the database is at (a round trip); None before the first."""

    def read(conn: Connection) -> str | None:
        if not inspect(conn).has_table("alembic_version"):
            return None
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if version is None else str(version)

    return await db.read(read)


def _upgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


async def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``, the newest by default (Alembic runs its own loop, so
    in a thread)."""
    url = normalise_url(url)
    if url.startswith("sqlite+aiosqlite:///"):
        Path(url[len("sqlite+aiosqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(_upgrade, url, revision)
