"""SQLite store layout: upgrade from the first release's schema, updates that move index entries,
slot collisions within a second, and the background WAL checkpointer."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import timedelta

import pytest
from test_store_conformance import NOW

from core.schema import Post
from nlp.segment import index_tokens
from store.base import Filters, SearchQuery, StoreError
from store.sqlite import ROWID_SLOTS, SqliteStore

# The first release's tables, as a database written by it looks on disk.
V1_SCHEMA = """
CREATE TABLE posts (
  rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
  source_type TEXT NOT NULL, published_at INTEGER NOT NULL, fetched_at INTEGER NOT NULL,
  engagement INTEGER NOT NULL DEFAULT 0, sentiment TEXT, category TEXT, risk TEXT,
  grid_id TEXT, community TEXT, street TEXT, district TEXT, geo_level TEXT,
  event_id TEXT, duplicate_of TEXT, author_hash TEXT,
  keywords TEXT NOT NULL DEFAULT '[]', doc TEXT NOT NULL
);
CREATE INDEX posts_time ON posts(published_at);
CREATE INDEX posts_grid_time ON posts(grid_id, published_at);
CREATE INDEX posts_street_time ON posts(street, published_at);
CREATE INDEX posts_risk_time ON posts(risk, published_at);
CREATE TABLE post_grids (
  post_rowid INTEGER NOT NULL REFERENCES posts(rowid) ON DELETE CASCADE,
  grid_id TEXT NOT NULL, PRIMARY KEY (grid_id, post_rowid)
) WITHOUT ROWID;
CREATE TABLE rollup_hour (
  hour INTEGER NOT NULL, grid_id TEXT NOT NULL, sentiment TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (hour, grid_id, sentiment)
) WITHOUT ROWID;
CREATE TABLE rollup_gen (hour INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
CREATE VIRTUAL TABLE posts_fts USING fts5(body, tokenize='unicode61 remove_diacritics 0');
"""


def _post(i: int, text: str, grids: tuple[str, ...] = ("G1",), **kw) -> Post:
    return Post(
        id=f"L:{i}",
        source="s",
        source_type="forum",
        text=text,
        published_at=kw.pop("published_at", NOW - timedelta(hours=i)),
        geo={"grid_id": grids[0], "special_grid_ids": list(grids[1:]), "street": "洪家楼街道"},
        sentiment={"label": "negative", "score": 0.9},
        **kw,
    )


def _write_v1(path, posts: list[Post]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    for n, p in enumerate(posts):
        rowid = int(p.published_at.timestamp()) * ROWID_SLOTS + n
        conn.execute(
            "INSERT INTO posts(rowid, id, source, source_type, published_at, fetched_at, "
            "sentiment, grid_id, street, keywords, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                rowid,
                p.id,
                p.source,
                p.source_type.value,
                int(p.published_at.timestamp()),
                int(p.fetched_at.timestamp()),
                p.sentiment.label,
                p.geo.grid_id,
                p.geo.street,
                json.dumps(p.keywords),
                p.model_dump_json(),
            ),
        )
        conn.execute(
            "INSERT INTO posts_fts(rowid, body) VALUES (?,?)",
            (rowid, " ".join(index_tokens(p.full_text))),
        )
        for g in [p.geo.grid_id, *p.geo.special_grid_ids]:
            conn.execute("INSERT INTO post_grids(post_rowid, grid_id) VALUES (?,?)", (rowid, g))
    conn.commit()
    conn.close()


def _ids(store: SqliteStore, q: str | None = None, **filters) -> set[str]:
    res = store.search(SearchQuery(q=q, filters=Filters(**filters), size=100))
    return {h.post.id for h in res.hits}


def test_first_release_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    old = [
        _post(1, "小区物业不作为，电梯坏了三天", ("G1", "S-school")),
        _post(2, "工地夜间施工噪音扰民", ("G2",)),
        _post(3, "暖气不热，物业说等等", ("G1",)),
    ]
    _write_v1(path, old)
    store = SqliteStore(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert _ids(store, "物业") == {"L:1", "L:3"}
    assert _ids(store, grid_id=["S-school"]) == {"L:1"}
    assert store.get("L:2").text == old[1].text
    assert store.count(Filters()) == 3
    week = Filters(since=NOW - timedelta(days=7))
    by_grid = store.timeline(week, interval="day", split="grid_id")  # rollup rebuilt from posts
    assert sum(b.by.get("G1", 0) for b in by_grid) == 2
    # the upgraded rows update like new ones: old tokens and grid entries go away
    store.upsert([_post(1, "楼道灯修好了", ("G2",))])
    assert _ids(store, "物业") == {"L:3"}
    assert _ids(store, "楼道灯") == {"L:1"}
    assert _ids(store, grid_id=["S-school"]) == set()
    assert _ids(store, grid_id=["G2"]) == {"L:1", "L:2"}
    store.close()
    # opening again is a no-op
    again = SqliteStore(path)
    assert again.count(Filters()) == 3
    again.close()


def test_database_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StoreError, match="newer release"):
        SqliteStore(path)


def test_updates_replace_index_entries_and_keep_one_row(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.upsert([_post(1, "电梯停运", ("G1", "S1", "S2"))])
    store.upsert([_post(1, "电梯修好", ("G1", "S2"))])  # same time, fewer special grids
    assert _ids(store, "停运") == set() and _ids(store, "修好") == {"L:1"}
    assert _ids(store, grid_id=["S1"]) == set() and _ids(store, grid_id=["S2"]) == {"L:1"}
    later = NOW - timedelta(minutes=5)
    store.upsert([_post(1, "电梯又坏", ("G3",), published_at=later)])  # moved in time
    assert store.count(Filters()) == 1
    assert _ids(store, "又坏", since=later - timedelta(seconds=1)) == {"L:1"}
    assert _ids(store, grid_id=["G1"]) == set() and _ids(store, grid_id=["S2"]) == set()
    assert store.conn.execute("SELECT COUNT(*) FROM post_docs").fetchone()[0] == 1


def test_many_posts_in_one_second_get_distinct_time_ordered_rowids(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    t = NOW - timedelta(hours=1)
    posts = [_post(i, f"同一秒 第{i}条", published_at=t) for i in range(3000)]
    for i in range(0, 3000, 700):  # several batches into the same second
        store.upsert(posts[i : i + 700])
    rows = store.conn.execute("SELECT rowid, published_at FROM posts").fetchall()
    assert len(rows) == 3000 == len({r[0] for r in rows})
    base = int(t.timestamp()) * ROWID_SLOTS
    assert all(base <= r[0] < base + ROWID_SLOTS for r in rows)
    assert store.search(SearchQuery(q="同一秒", size=5)).total == 3000


def test_checkpoints_run_off_the_writer_and_stop_on_close(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    for b in range(5):
        store.upsert([_post(b * 100 + i, f"第{i}条 物业") for i in range(100)])
    deadline = time.monotonic() + 10
    while store._checkpointer.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store._checkpointer.runs > 0
    thread = store._checkpointer._thread
    store.close()
    assert thread is not None and not thread.is_alive()
    # a database whose writer stopped still opens and answers from the checkpointed file
    again = SqliteStore(tmp_path / "s.db")
    assert again.count(Filters()) == 500
    again.close()


def test_a_post_whose_record_went_missing_is_restored_by_the_next_upsert(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.upsert([_post(1, "排水管道堵塞")])
    store.conn.execute("DELETE FROM post_docs")  # as if lost: the row of posts remains
    assert store.get("L:1") is None
    store.upsert([_post(1, "排水管道已疏通")])
    assert store.get("L:1").text == "排水管道已疏通"
    assert _ids(store, "疏通") == {"L:1"} and store.count(Filters()) == 1
