"""Engine creation and schema migration for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; NORMAL is durable across process crashes
    # and commits without an fsync each time (performance.md).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=5, max_overflow=5)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


_SQLITE_WRITERS: WeakKeyDictionary[AsyncEngine, asyncio.Lock] = WeakKeyDictionary()


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction; on SQLite one at a time per process.

    SQLite has one writer. Without this, concurrent transactions of the same process collide on
    its lock and wait in SQLite's busy handler, which sleeps up to 100 ms at a time: seconds
    of tail latency under load. Queueing them here costs nothing, the database would serialise
    them anyway. PostgreSQL locks rows, so its transactions run side by side.
    """
    if engine.dialect.name != "sqlite":
        async with engine.begin() as conn:
            yield conn
        return
    writer = _SQLITE_WRITERS.get(engine)
    if writer is None:
        writer = _SQLITE_WRITERS[engine] = asyncio.Lock()
    async with writer, engine.begin() as conn:
        yield conn


def _upgrade(url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


async def migrate(url: str) -> None:
    """Bring the schema to the newest revision (Alembic runs its own loop, so in a thread)."""
    url = normalise_url(url)
    if url.startswith("sqlite+aiosqlite:///"):
        Path(url[len("sqlite+aiosqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(_upgrade, url)
