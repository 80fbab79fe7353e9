"""WAL checkpoints on a background thread instead of inside the writer's commits.

SQLite's automatic checkpoint runs in whichever commit crosses the threshold, and a checkpoint
fsyncs the database: with posts arriving in any publication order each batch dirties pages all
over the file, and those fsyncs cost the writer about half its time. Here the writer only
appends to the WAL; this thread copies the WAL back (PASSIVE: it never blocks the writer or
readers). If it falls far behind, the writer checkpoints itself so the WAL stays bounded.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        interval_s: float = 1.0,
        max_wal_bytes: int = 128 << 20,
    ) -> None:
        self._connect = connect
        self.interval_s = interval_s
        self.max_wal_bytes = max_wal_bytes  # past this the writer checkpoints itself
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0

    def wrote(self, conn: sqlite3.Connection, wal_bytes: int = 0) -> None:
        """Called by the writer after a commit; starts the thread on first use."""
        self._dirty.set()
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="sqlite-checkpoint", daemon=True
                )
                self._thread.start()
        if wal_bytes > self.max_wal_bytes:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _loop(self) -> None:
        conn = self._connect()
        try:
            while not self._stop.is_set():
                if not self._dirty.wait(self.interval_s):
                    continue
                self._dirty.clear()
                try:
                    # back to back while the writer is busy: the WAL can only restart from its
                    # beginning once a pass has caught up with the last commit
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.runs += 1
                except sqlite3.Error as exc:  # busy or I/O: the next round tries again
                    log.warning("WAL checkpoint failed: %s", exc)
                    self._dirty.set()
                    self._stop.wait(self.interval_s)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)
