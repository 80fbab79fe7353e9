"""Migration of the demo data from the embedded store to Elasticsearch, resumed half way, then
the same search and statistics answers from both stores.

Runs against the noida-db emulator (or $YUQING_ES_URL). Identical answers against the emulator
show the query translation is right; they say nothing about a real cluster's speed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from conftest import HEAVY
from es_emulator import drop_indices, es_config

from core.db import connect
from core.schema import SHANGHAI, Post
from store.base import Filters, SearchQuery
from store.elasticsearch import ElasticsearchStore
from store.migrate import migrate
from store.sqlite import SqliteStore

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=SHANGHAI)
STREETS = {
    "洪家楼街道": ["花园北区社区", "洪家楼社区"],
    "东风街道": ["七里河社区", "东风社区"],
    "唐冶街道": ["唐冶社区"],
}


def _h(post_id: str, salt: str) -> int:
    return int(hashlib.sha1(f"{salt}|{post_id}".encode()).hexdigest()[:8], 16)


def demo_posts() -> list[Post]:
    """The demo generator's posts with keywords (the real component) and deterministic labels
    for every other enrichment field, so every filter and aggregation has data."""
    from core.demo import generate_demo_posts
    from nlp.segment import words

    out: list[Post] = []
    for i, rec in enumerate(generate_demo_posts(n=2400, now=NOW)):
        pid = rec["id"]
        street = next((s for s in STREETS if s in rec["text"]), None)
        if street is None and _h(pid, "located") % 4:
            street = sorted(STREETS)[_h(pid, "street") % len(STREETS)]
        if street:
            comms = STREETS[street]
            community = comms[_h(pid, "comm") % len(comms)]
            gid = f"G{_h(pid, 'grid') % 7:03d}"
            rec["geo"] = {
                "grid_id": gid,
                "special_grid_ids": ["S-school"] if _h(pid, "special") % 9 == 0 else [],
                "community": community,
                "street": street,
                "district": "历城区",
                "level": "grid",
            }
        label = ("negative", "neutral", "positive")[_h(pid, "sent") % 3]
        rec["sentiment"] = {"label": label, "score": 0.8}
        rec["category"] = {"label": ("property", "utilities", "wages", "traffic")[_h(pid, "c") % 4]}
        rec["risk"] = {"level": ("none", "none", "elevated", "critical")[_h(pid, "r") % 4]}
        rec["keywords"] = list(dict.fromkeys(w for w in words(rec["text"]) if len(w) >= 2))[:5]
        if "工资" in rec["text"]:
            rec["event_id"] = "ev:wages"
        if i % 40 == 39:
            rec["duplicate_of"] = out[-1].id
        out.append(Post.model_validate(rec))
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("migrate")
    sqlite = SqliteStore(tmp / "yuqing.db")
    posts = demo_posts()
    for i in range(0, len(posts), 500):
        sqlite.upsert(posts[i : i + 500])
    # an update after the first insert keeps its rowid: the order among ties must survive
    sqlite.upsert([posts[5].model_copy(update={"text": posts[5].text + "（已更新）"})])
    cfg = es_config()
    es = ElasticsearchStore(cfg)
    app_db = connect(tmp / "app.db")
    lines: list[str] = []
    first = migrate(sqlite, es, app_db, batch=500, progress=lines.append, stop_after=2)
    assert first.copied == 1000 and es.count(Filters()) == 1000
    second = migrate(sqlite, es, app_db, batch=500, progress=lines.append)
    assert second.resumed_from > 0 and second.copied == 1400
    assert second.total_copied == second.source_posts == second.target_posts == 2400
    assert any("resuming after rowid" in line for line in lines)
    again = migrate(sqlite, es, app_db, batch=500, progress=lines.append)
    assert again.copied == 0 and again.target_posts == 2400  # nothing left, nothing doubled
    yield sqlite, es
    sqlite.close()
    es.close()
    app_db.close()
    drop_indices(cfg)


WEEK = Filters(since=NOW - timedelta(days=7), until=NOW)
# the emulator answers in ~0.1-0.3 s (full scans): a representative battery by default, every
# combination with YUQING_HEAVY=1
FILTER_SETS = [
    Filters(),
    Filters(community=["花园北区社区"], sentiment=["negative"], since=WEEK.since),
    Filters(grid_id=["S-school", "G002"], exclude_duplicates=True),
    Filters(source_type=["hotline", "microblog"], risk=["critical"], event_id=["ev:wages"]),
]
if HEAVY:
    FILTER_SETS += [
        WEEK,
        Filters(street=["洪家楼街道"]),
        Filters(grid_id=["G001"]),
        Filters(since=NOW - timedelta(hours=36), category=["utilities"]),
    ]
QUERIES = [None, "物业", "暖气 OR 停水", "工资 -拖欠", '"暖气不热"', "🙂"]
if HEAVY:
    QUERIES += ["小区 物业", "停水 OR 暖气 OR 工资 -通知"]
PAGES = 200 if HEAVY else 2


def _pages(store, q, f, sort, size=50, max_pages=PAGES):
    pages, cursor = [], None
    for _ in range(max_pages):
        r = store.search(SearchQuery(q=q, filters=f, sort=sort, size=size, cursor=cursor))
        pages.append(r)
        cursor = r.next_cursor
        if cursor is None:
            break
    return pages


def _hit_view(h):
    return (h.post.model_dump(mode="json"), h.highlights, h.duplicate_count)


def _same_pages(a, b):
    assert [(p.total, p.total_relation, p.next_cursor is None) for p in a] == [
        (p.total, p.total_relation, p.next_cursor is None) for p in b
    ]
    for pa, pb in zip(a, b, strict=True):
        assert [_hit_view(h) for h in pa.hits] == [_hit_view(h) for h in pb.hits]


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("sort", ["time", "engagement"])
def test_search_pages_are_identical(stores, q, sort):
    sqlite, es = stores
    for f in FILTER_SETS if HEAVY else FILTER_SETS[:1]:
        _same_pages(_pages(sqlite, q, f, sort), _pages(es, q, f, sort))


@pytest.mark.parametrize("fi", range(1, len(FILTER_SETS)))
def test_filtered_search_is_identical(stores, fi):
    sqlite, es = stores
    f = FILTER_SETS[fi]
    _same_pages(_pages(sqlite, None, f, "time", 25, 4), _pages(es, None, f, "time", 25, 4))


@pytest.mark.parametrize("q", ["物业", "暖气 OR 停水 OR 工资"])
def test_relevance_finds_the_same_posts(stores, q):
    sqlite, es = stores
    a = [h.post.id for p in _pages(sqlite, q, Filters(), "relevance", 200, 50) for h in p.hits]
    b = [h.post.id for p in _pages(es, q, Filters(), "relevance", 200, 50) for h in p.hits]
    assert len(b) == len(set(b)) and set(a) == set(b) and a


@pytest.mark.parametrize("fi", range(len(FILTER_SETS)))
def test_stats_are_identical(stores, fi):
    sqlite, es = stores
    f = FILTER_SETS[fi]
    for q in (None, "物业 OR 暖气", "工资") if HEAVY else (None, "物业 OR 暖气"):
        assert sqlite.count(f, q=q) == es.count(f, q=q)
        for interval in ("hour", "day") if HEAVY else ("hour",):
            assert sqlite.timeline(f, interval=interval, q=q) == es.timeline(
                f, interval=interval, q=q
            )
        for split in ("sentiment", "grid_id", "street") if HEAVY else ("sentiment", "grid_id"):
            assert sqlite.timeline(f, interval="day", split=split, q=q) == es.timeline(
                f, interval="day", split=split, q=q
            )
        fields = ("grid_id", "street", "community", "category", "sentiment", "source")
        for field in fields if HEAVY else ("grid_id", "street", "sentiment"):
            assert sqlite.breakdown(f, field=field, q=q) == es.breakdown(f, field=field, q=q)
        assert sqlite.breakdown(f, field="source", size=3, q=q) == es.breakdown(
            f, field="source", size=3, q=q
        )
        assert sqlite.keywords(f, size=30, q=q) == es.keywords(f, size=30, q=q)


def test_records_and_scans_are_identical(stores):
    sqlite, es = stores
    ids = [p.id for p in sqlite.iter_posts(Filters())]
    assert [p.id for p in es.iter_posts(Filters(), batch_size=500)] == ids  # rowid order kept
    sample = ids[::97] + ["missing"]
    assert [p.model_dump() for p in sqlite.get_many(sample)] == [
        p.model_dump() for p in es.get_many(sample)
    ]
    assert sqlite.duplicate_counts(ids[:200]) == es.duplicate_counts(ids[:200])
