"""SQLite's WAL copied back into the database file from a thread, not inside a commit.

SQLite runs a checkpoint inside the commit that takes the WAL past 1,000 pages: the event loop
then waits while the WAL and the database file are synced to disk, tens of milliseconds on a
slow disk, and every request in flight waits with it. The serving connection turns that off
(``wal_autocheckpoint=0``); a :class:`Checkpointer` copies the WAL back from its own connection
in a thread while the loop goes on. The pages appended meanwhile are copied by the serving
connection right after its next commit (a few pages, already mostly on disk), so that the WAL
is wholly copied and the write after that starts it over from its beginning, as it does after
SQLite's own checkpoint. Without that last step the WAL never restarts under a steady stream
of writes and grows without bound (docs/performance.md#known-traps).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)

# About 1,000 pages at a notify's 15 pages a commit: what SQLite's own checkpoint waits for.
COMMITS_PER_CHECKPOINT = 64
# The thread copies again what was appended while it copied, until that is this little: the
# serving connection then copies and syncs only that much (docs/performance.md#known-traps).
SMALL_REST_FRAMES = 100
MAX_PASSES = 8

_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"  # never waits for a lock; copies what it can


class Checkpointer:
    """Checkpoints the WAL of the database at ``path`` every ``every_commits`` commits, in its
    own thread, on its own connection (of ``connection_class``).
    """

    def __init__(
        self,
        path: str,
        *,
        every_commits: int = COMMITS_PER_CHECKPOINT,
        connection_class: type[sqlite3.Connection] = sqlite3.Connection,
    ) -> None:
        self._path = path
        self._connection_class = connection_class
        self._every_commits = every_commits
        self._commits = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        self._connection: sqlite3.Connection | None = None  # the thread's own
        self._running: Future[None] | None = None

    def committed(self, serving: sqlite3.Connection) -> None:
        """After each commit of the serving connection, outside any transaction."""
        running = self._running
        if running is not None:
            if not running.done():
                return
            self._running = None
            if (error := running.exception()) is not None:
                log.warning("WAL checkpoint failed; tried again later: %s", error)
            else:
                self._finish(serving)
        self._commits += 1
        if self._commits >= self._every_commits:
            self._commits = 0
            self._running = self._thread.submit(self._checkpoint)

    @staticmethod
    def _finish(serving: sqlite3.Connection) -> None:
        try:
            serving.execute(_CHECKPOINT).close()
        except sqlite3.Error as error:
            # The commit before it stands: a caller must not take it for a failed write.
            log.warning("WAL checkpoint failed; tried again later: %s", error)

    def _checkpoint(self) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, timeout=10, factory=self._connection_class
            )
            self._connection.execute("PRAGMA synchronous=NORMAL")
        copied_before = 0
        for _ in range(MAX_PASSES):
            _busy, _frames, copied = self._connection.execute(_CHECKPOINT).fetchone()
            if copied - copied_before <= SMALL_REST_FRAMES:
                break
            copied_before = copied
        # SQLite syncs the database file only once every frame is copied, which the serving
        # connection's last step does: what the passes copied is synced here, not there.
        database = os.open(self._path, os.O_RDONLY)
        try:
            os.fdatasync(database)
        finally:
            os.close(database)

    def close(self) -> None:
        """Wait for a checkpoint under way and close the thread's connection."""
        self._thread.submit(self._close_connection)
        self._thread.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
