"""The WAL is copied back from a thread: commits never wait for it, and it still starts over."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from adapter.store.checkpoints import Checkpointer
from adapter.store.db import Database

DEADLINE_SECONDS = 60.0
ROW = "x" * 3000  # about a page a commit


def wal_restarts(database: Path) -> int:
    """The WAL header's checkpoint sequence number: one more at every start-over."""
    with open(f"{database}-wal", "rb") as wal:
        return int.from_bytes(wal.read(16)[12:16], "big")


def serving_connection(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE IF NOT EXISTS rows (body TEXT)")
    return connection


def gated() -> tuple[type[sqlite3.Connection], threading.Event, threading.Event]:
    """A connection class whose statements wait for the gate; its started and gate events."""
    started, gate = threading.Event(), threading.Event()

    class GatedConnection(sqlite3.Connection):
        def execute(self, *args: Any) -> sqlite3.Cursor:
            started.set()
            assert gate.wait(DEADLINE_SECONDS)
            return super().execute(*args)

    return GatedConnection, started, gate


def commit_until(
    serving: sqlite3.Connection, checkpointer: Checkpointer, done: Callable[[], bool]
) -> None:
    """Commit a row at a time until ``done()``; fails when it never comes."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        assert time.monotonic() < deadline, "never came"
        serving.execute("INSERT INTO rows VALUES (?)", (ROW,))
        checkpointer.committed(serving)


def test_commits_go_on_while_a_checkpoint_is_under_way(tmp_path: Path) -> None:
    database = tmp_path / "adapter.sqlite3"
    serving = serving_connection(database)
    connection_class, started, gate = gated()
    checkpointer = Checkpointer(str(database), every_commits=10, connection_class=connection_class)
    commit_until(serving, checkpointer, started.is_set)
    before = wal_restarts(database)

    commit_until(serving, checkpointer, lambda: serving.total_changes >= 500)

    assert wal_restarts(database) == before  # the stuck checkpoint held nothing up
    gate.set()
    commit_until(serving, checkpointer, lambda: wal_restarts(database) > before)
    checkpointer.close()
    assert serving.execute("SELECT count(*) FROM rows").fetchone()[0] == serving.total_changes
    serving.close()


async def test_the_wal_starts_over_under_a_steady_stream_of_writes(tmp_path: Path) -> None:
    database = tmp_path / "adapter.sqlite3"
    serving_connection(database).close()
    db = Database(f"sqlite:///{database}")

    def insert(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO rows VALUES (?)", (ROW,))

    await db.write(insert)
    first = wal_restarts(database)
    deadline = time.monotonic() + DEADLINE_SECONDS
    written = 1
    while wal_restarts(database) < first + 2:
        assert time.monotonic() < deadline, "the WAL never started over"
        await db.write(insert)
        written += 1
    await db.dispose()

    with sqlite3.connect(database) as reopened:
        assert reopened.execute("SELECT count(*) FROM rows").fetchone()[0] == written


async def test_the_serving_connection_never_checkpoints_inside_a_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/adapter.sqlite3")

    def setting(conn: Connection) -> object:
        return conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()

    assert await db.read(setting) == 0
    await db.dispose()
