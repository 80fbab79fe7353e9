"""Persistent seen-set of detail URLs and source-native ids, per source (incremental crawling).

Replaces scrapy-deltafetch (broken on current Scrapy). Keys are added only after the inbox has
accepted (or dead-lettered) the item, so a crawl killed mid-way re-fetches rather than loses.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from core.db import Tx, connect
from core.schema import canonical_url

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  seen_at REAL NOT NULL,
  PRIMARY KEY (source, key)
) WITHOUT ROWID;
"""


def url_key(url: str) -> str:
    return "url:" + canonical_url(url)


def replies_key(native_id: str, replies: int) -> str:
    """Marks a thread as stored with this many replies (a different count means new floors)."""
    return f"replies:{native_id}:{replies}"


def id_key(native_id: str) -> str:
    return "id:" + str(native_id)


class SeenSet:
    def __init__(self, path: str | Path) -> None:
        self.conn = connect(path, durable=False)
        self.conn.executescript(SCHEMA)

    def has(self, source: str, key: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM seen WHERE source=? AND key=?", (source, key)
        ).fetchone()
        return row is not None

    def add(self, source: str, keys: Iterable[str]) -> None:
        now = time.time()
        rows = [(source, k, now) for k in keys if k]
        if not rows:
            return
        with Tx(self.conn):
            self.conn.executemany(
                "INSERT OR IGNORE INTO seen(source, key, seen_at) VALUES (?,?,?)", rows
            )

    def count(self, source: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM seen WHERE source=?", (source,)).fetchone()[
            0
        ]

    def forget(self, source: str) -> int:
        with Tx(self.conn):
            return self.conn.execute("DELETE FROM seen WHERE source=?", (source,)).rowcount

    def close(self) -> None:
        self.conn.close()
