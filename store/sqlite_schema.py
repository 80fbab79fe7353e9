"""Create the embedded store's tables, or upgrade a database written by an older release.

The version lives in ``PRAGMA user_version`` and changes inside the same transaction as the
tables, so a crash mid-upgrade leaves the old layout intact and the next start tries again.
"""

from __future__ import annotations

import sqlite3

from core.db import Tx
from store.base import StoreError

# Version 1 (the first release): the record in ``posts.doc``, an FTS table that kept its own
# copy of the tokens, a foreign key from ``post_grids`` (each delete scanned that table) and
# an hourly rollup with one row per sentiment.
_V1_INDEXES = (
    "posts_time",
    "posts_grid_time",
    "posts_street_time",
    "posts_community_time",
    "posts_category_time",
    "posts_source_time",
    "posts_stype_time",
    "posts_risk_time",
    "posts_event",
    "posts_dup",
)
_POST_COLUMNS = (
    "rowid, id, source, source_type, published_at, fetched_at, engagement, sentiment, category, "
    "risk, grid_id, community, street, district, geo_level, event_id, duplicate_of, author_hash, "
    "keywords"
)


def ensure_schema(conn: sqlite3.Connection, schema: str, version: int) -> None:
    with Tx(conn):
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found == version:
            return
        if found > version:
            raise StoreError(
                f"the store at this path was written by a newer release (schema {found}, "
                f"this release reads {version}): upgrade yuqing"
            )
        columns = {r[1] for r in conn.execute("PRAGMA table_info(posts)")}
        if "doc" in columns:
            _rename_v1(conn)
        for statement in schema.split(";"):
            if statement.strip():
                conn.execute(statement)
        if "doc" in columns:
            _copy_v1(conn)
        conn.execute(f"PRAGMA user_version={int(version)}")


def _rename_v1(conn: sqlite3.Connection) -> None:
    for name in _V1_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.execute("ALTER TABLE posts RENAME TO posts_v1")
    conn.execute("ALTER TABLE posts_fts RENAME TO posts_fts_v1")
    conn.execute("ALTER TABLE post_grids RENAME TO post_grids_v1")
    # the hourly rollup changed shape (sentiments as columns): rebuilt from posts on open
    conn.execute("DROP TABLE IF EXISTS rollup_hour")
    conn.execute("DROP TABLE IF EXISTS rollup_gen")


def _copy_v1(conn: sqlite3.Connection) -> None:
    # the old rowid doubles as the record's sequence number: unique, and new records append
    conn.execute(
        "INSERT INTO post_docs(seq, doc, body) SELECT p.rowid, p.doc, COALESCE(f.body, '') "
        "FROM posts_v1 p LEFT JOIN posts_fts_v1 f ON f.rowid = p.rowid"
    )
    conn.execute(
        f"INSERT INTO posts({_POST_COLUMNS}, doc_seq) SELECT {_POST_COLUMNS}, rowid FROM posts_v1"
    )
    conn.execute("INSERT INTO posts_fts(rowid, body) SELECT seq, body FROM post_docs")
    conn.execute(
        "INSERT INTO post_grids(grid_id, post_rowid) SELECT grid_id, post_rowid FROM post_grids_v1"
    )
    for table in ("posts_fts_v1", "post_grids_v1", "posts_v1"):
        conn.execute(f"DROP TABLE {table}")
