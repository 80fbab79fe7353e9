"""Copy the embedded store into Elasticsearch, resumably.

Posts are read in rowid order and written with their rowid as ``seq`` (so posts published in
the same second keep the embedded store's order). After each batch the last copied rowid is
checkpointed in the app database; an interrupted run resumes there, and a batch copied twice is
harmless (writes are idempotent by post id). Alert state, API keys and labels stay in the app
database (SQLite): they are small, transactional and written by one leader, see the README.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from core.db import Tx
from store.base import Filters, StoreError

CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS store_migration (
  target TEXT PRIMARY KEY,
  last_rowid INTEGER NOT NULL DEFAULT 0,
  copied INTEGER NOT NULL DEFAULT 0,
  started_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  finished_at REAL
);
"""


@dataclass
class MigrationResult:
    copied: int  # posts written by this run
    total_copied: int  # posts written by every run towards this target
    source_posts: int
    target_posts: int
    events: int
    seconds: float
    resumed_from: int


def target_key(cfg: Any) -> str:
    return f"elasticsearch|{','.join(cfg.hosts)}|{cfg.index_prefix}"


class Checkpoint:
    def __init__(self, app_db: sqlite3.Connection, target: str) -> None:
        self.db = app_db
        self.target = target
        self.db.executescript(CHECKPOINTS)

    def load(self) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT last_rowid, copied FROM store_migration WHERE target=?", (self.target,)
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def save(self, last_rowid: int, copied: int, finished: bool = False) -> None:
        now = time.time()
        with Tx(self.db):
            self.db.execute(
                "INSERT INTO store_migration(target, last_rowid, copied, started_at, updated_at, finished_at)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(target) DO UPDATE SET last_rowid=excluded.last_rowid,"
                " copied=excluded.copied, updated_at=excluded.updated_at, finished_at=excluded.finished_at",
                (self.target, last_rowid, copied, now, now, now if finished else None),
            )

    def reset(self) -> None:
        with Tx(self.db):
            self.db.execute("DELETE FROM store_migration WHERE target=?", (self.target,))


def migrate(
    source: Any,
    target: Any,
    app_db: sqlite3.Connection,
    batch: int = 1000,
    restart: bool = False,
    progress: Callable[[str], None] = print,
    stop_after: int | None = None,
) -> MigrationResult:
    """Copy ``source`` (a SqliteStore) into ``target`` (an ElasticsearchStore).

    ``stop_after`` ends the run after that many batches (tests of resumption).
    """
    conn = source.conn
    cp = Checkpoint(app_db, target_key(target.cfg))
    if restart:
        cp.reset()
    last, total_copied = cp.load()
    resumed_from = last
    n_source = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
    remaining = conn.execute("SELECT COUNT(*) FROM posts WHERE rowid > ?", (last,)).fetchone()[0]
    if last:
        progress(f"migrate: resuming after rowid {last} ({total_copied} posts copied before)")
    progress(f"migrate: {remaining} posts to copy to {target.names.posts_alias}")
    start = time.monotonic()
    copied = 0
    batches = 0
    while stop_after is None or batches < stop_after:
        rows = source.scan_after(last, batch)
        if not rows:
            break
        posts = [post for _, post in rows]
        target.upsert_with_seq(posts, [int(r[0]) for r in rows])
        last = int(rows[-1][0])
        copied += len(rows)
        total_copied += len(rows)
        batches += 1
        cp.save(last, total_copied)
        rate = copied / max(time.monotonic() - start, 1e-9)
        pct = 100.0 * copied / remaining if remaining else 100.0
        progress(f"migrate: {copied}/{remaining} posts ({pct:.1f}%), {rate:.0f} posts/s")
    finished = stop_after is None or batches < stop_after
    events = 0
    if finished:
        events = copy_events(source, target, progress)
        cp.save(last, total_copied, finished=True)
    target.refresh()
    n_target = target.count(Filters())
    return MigrationResult(
        copied=copied,
        total_copied=total_copied,
        source_posts=n_source,
        target_posts=n_target,
        events=events,
        seconds=time.monotonic() - start,
        resumed_from=resumed_from,
    )


def copy_events(source: Any, target: Any, progress: Callable[[str], None]) -> int:
    """Events (issue 4) travel too when both stores have them; they are few, so one pass."""
    upsert_events = getattr(target, "upsert_events", None)
    if not callable(upsert_events):
        return 0
    n = 0
    chunk: list[Any] = []
    for ev in _source_events(source):
        chunk.append(ev)
        if len(chunk) >= 500:
            upsert_events(chunk)
            n += len(chunk)
            chunk = []
    if chunk:
        upsert_events(chunk)
        n += len(chunk)
    if n:
        progress(f"migrate: {n} events copied")
    return n


def _source_events(source: Any) -> Iterator[Any]:
    iter_events = getattr(source, "iter_events", None)
    if callable(iter_events):
        yield from iter_events()
        return
    conn = getattr(source, "conn", None)
    if conn is None:
        return
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='events'"
    ).fetchone()
    if not has:
        return
    from store.events import Event

    last = ""
    while True:  # keyset pages: the table can be large and the connection is shared
        rows = conn.execute(
            "SELECT id, doc FROM events WHERE id > ? ORDER BY id LIMIT 500", (last,)
        ).fetchall()
        if not rows:
            return
        for r in rows:
            yield Event.model_validate_json(r[1])
        last = rows[-1][0]


def check_source(source: Any) -> None:
    if not hasattr(source, "conn"):
        raise StoreError("the source of a migration must be the embedded (sqlite) store")
