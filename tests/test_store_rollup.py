"""The SQLite hourly rollup must give exactly the answers of the posts table, edges and updates included."""

from __future__ import annotations

import random
from datetime import timedelta

from test_store_conformance import NOW

from core.schema import Post
from store.base import Filters
from store.sqlite import SqliteStore


def _posts(rnd: random.Random, n: int, offset: int = 0) -> list[Post]:
    out = []
    for i in range(n):
        out.append(
            Post(
                id=f"r:{i + offset}",
                source="s",
                source_type="microblog",
                text="内容",
                published_at=NOW - timedelta(seconds=rnd.randrange(9 * 86400)),
                sentiment=(
                    {"label": rnd.choice(["negative", "neutral", "positive"]), "score": 1}
                    if rnd.random() < 0.8
                    else None  # not scored: counted in totals, "unknown" when split
                ),
                geo={"grid_id": rnd.choice(["G1", "G2", "G3", None]), "level": "grid"},
            )
        )
    return out


def _with(p: Post, **changes) -> Post:
    return Post.model_validate({**p.model_dump(), **changes})


def _both(store: SqliteStore, f: Filters, **kw):
    fast = store.timeline(f, **kw)
    slow = store.timeline(
        f.model_copy(update={"exclude_duplicates": True}), **kw
    )  # forces the posts table
    return fast, slow


def test_rollup_matches_posts_table(tmp_path):
    rnd = random.Random(3)
    store = SqliteStore(tmp_path / "r.db")
    posts = _posts(rnd, 600)
    store.upsert(posts)
    # updates move posts between hours, grids and sentiments; the rollup must follow
    moved = [
        _with(p, published_at=p.published_at - timedelta(minutes=97), geo=None) for p in posts[:100]
    ]
    store.upsert(moved)
    store.upsert([_with(p, sentiment={"label": "negative", "score": 1}) for p in posts[100:200]])
    windows = [
        Filters(),
        Filters(since=NOW - timedelta(days=7, minutes=13), until=NOW - timedelta(minutes=41)),
        Filters(since=NOW - timedelta(hours=5, minutes=59)),
        Filters(
            since=NOW - timedelta(minutes=50), until=NOW - timedelta(minutes=10)
        ),  # inside one hour
        Filters(since=NOW - timedelta(days=3), sentiment=["negative"]),
        Filters(since=NOW - timedelta(days=2, minutes=7), sentiment=["negative", "positive"]),
        Filters(sentiment=["neutral"], until=NOW - timedelta(hours=30, minutes=5)),
    ]
    for f in windows:
        for interval in ("hour", "day"):
            for split in (None, "grid_id", "sentiment"):
                fast, slow = _both(store, f, interval=interval, split=split)
                assert fast == slow, (f, interval, split)
        fast = store.breakdown(f, "grid_id", size=10)
        slow = store.breakdown(
            f.model_copy(update={"exclude_duplicates": True}), "grid_id", size=10
        )
        assert fast == slow
    store.close()


def test_rollup_rebuilt_for_an_old_database(tmp_path):
    store = SqliteStore(tmp_path / "r.db")
    store.upsert(_posts(random.Random(1), 50))
    store.conn.execute("DELETE FROM rollup_hour")
    store.close()
    again = SqliteStore(tmp_path / "r.db")
    f = Filters(since=NOW - timedelta(days=30))
    assert sum(b.count for b in again.timeline(f)) == 50


def test_cached_hours_follow_writes_from_this_and_other_processes(tmp_path):
    rnd = random.Random(9)
    store = SqliteStore(tmp_path / "r.db")
    other = SqliteStore(tmp_path / "r.db")  # stands for a second process writing the same file
    posts = _posts(rnd, 400)
    store.upsert(posts)
    f = Filters(since=NOW - timedelta(days=7, minutes=13), until=NOW - timedelta(minutes=41))
    for _ in range(2):  # second read comes from the cache
        fast, slow = _both(store, f, interval="hour", split="grid_id")
        assert fast == slow
    store.upsert([_with(p, geo={"grid_id": "G9", "level": "grid"}) for p in posts[:50]])
    fast, slow = _both(store, f, interval="hour", split="grid_id")
    assert fast == slow
    other.upsert(
        [_with(p, published_at=p.published_at - timedelta(hours=3)) for p in posts[50:120]]
    )
    other.upsert(_posts(rnd, 60, offset=10_000))
    fast, slow = _both(store, f, interval="hour", split="grid_id")
    assert fast == slow
    store.close()
    other.close()
