"""SQLite connections with the settings every table of ours relies on (WAL, busy timeout)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

_TX_LOCKS: dict[int, threading.RLock] = {}
_TX_GUARD = threading.Lock()


def _tx_lock(conn: sqlite3.Connection) -> threading.RLock:
    with _TX_GUARD:
        lock = _TX_LOCKS.get(id(conn))
        if lock is None:
            lock = _TX_LOCKS[id(conn)] = threading.RLock()
        return lock


def connect(
    path: str | Path, *, durable: bool = True, check_same_thread: bool = False
) -> sqlite3.Connection:
    """Open a WAL-mode database.

    ``durable`` selects ``synchronous=FULL`` (a commit survives power loss) over NORMAL
    (survives a killed process, which is what ``kill -9`` tests). The inbox uses FULL because a
    commit there is the acknowledgement given to the sender.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(p), timeout=30, isolation_level=None, check_same_thread=check_same_thread
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Tx:
    """``with Tx(conn):`` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on error (autocommit connections).

    A connection shared by threads (the API's thread pool) must not interleave two threads'
    transactions, so each connection's transactions are serialised by a lock.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = _tx_lock(conn)

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.lock.release()
