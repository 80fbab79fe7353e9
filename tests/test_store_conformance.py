"""One behaviour for every store backend: filters, sorts, cursors, highlights, aggregations, hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from backends import BACKENDS

from core.schema import SHANGHAI, Post
from store.base import Filters, QueryError, SearchQuery

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=SHANGHAI)


def make_post(i: int, text: str, **kw) -> Post:
    base = {
        "id": f"t:{i}",
        "source": kw.pop("source", "weibo"),
        "source_type": kw.pop("source_type", "microblog"),
        "text": text,
        "published_at": kw.pop("published_at", NOW - timedelta(hours=i)),
    }
    base.update(kw)
    return Post.model_validate(base)


def corpus() -> list[Post]:
    geo1 = {
        "grid_id": "G001",
        "community": "花园北区社区",
        "street": "洪家楼街道",
        "district": "历城区",
        "level": "grid",
    }
    geo2 = {
        "grid_id": "G002",
        "community": "七里河社区",
        "street": "东风街道",
        "district": "历城区",
        "level": "grid",
    }
    return [
        make_post(
            0,
            "小区物业不作为，电梯坏了三天没人修",
            sentiment={"label": "negative", "score": 0.9},
            category={"label": "property"},
            risk={"level": "none"},
            geo=geo1,
            engagement={"likes": 5, "reposts": 1, "comments": 2},
            keywords=["物业", "电梯"],
        ),
        make_post(
            1,
            "物业费又涨了，业主很不满意",
            sentiment={"label": "negative", "score": 0.8},
            category={"label": "property"},
            risk={"level": "elevated"},
            geo=geo1,
            engagement={"likes": 50},
            keywords=["物业费", "业主"],
        ),
        make_post(
            2,
            "来电人反映：暖气不热，室温只有12度",
            source="hotline-12345",
            source_type="hotline",
            sentiment={"label": "negative", "score": 0.7},
            category={"label": "utilities"},
            risk={"level": "none"},
            geo=geo2,
            keywords=["暖气", "室温"],
        ),
        make_post(
            3,
            "【停水通知】花园路沿线明日检修停水",
            source="licheng-news",
            source_type="news",
            title="停水通知",
            sentiment={"label": "neutral", "score": 0.9},
            category={"label": "utilities"},
            risk={"level": "none"},
            geo=geo2,
            keywords=["停水", "检修"],
        ),
        make_post(
            4,
            "感谢物业及时修好了路灯，点赞",
            sentiment={"label": "positive", "score": 0.9},
            category={"label": "property"},
            risk={"level": "none"},
            geo=geo1,
            keywords=["物业", "路灯"],
        ),
        make_post(
            30,
            "工地拖欠工资，工人明天聚集拉横幅",
            source="tieba",
            source_type="forum",
            sentiment={"label": "negative", "score": 0.95},
            category={"label": "wages"},
            risk={"level": "critical"},
            keywords=["工资", "横幅"],
            published_at=NOW - timedelta(days=10),
        ),
    ]


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path):
    with BACKENDS[request.param](tmp_path) as s:
        s.upsert(corpus())
        refresh = getattr(s, "refresh", None)
        if callable(refresh):
            refresh()
        yield s


def ids(result) -> list[str]:
    return [h.post.id for h in result.hits]


def test_upsert_is_idempotent_and_updates(store):
    before = store.count(Filters())
    changed = corpus()[0].model_copy(update={"text": "小区物业不作为，电梯坏了五天没人修"})
    store.upsert([changed])
    store.upsert([changed])
    getattr(store, "refresh", lambda: None)()
    assert store.count(Filters()) == before == 6
    assert store.get("t:0").text.endswith("五天没人修")
    assert store.search(SearchQuery(q="五天")).total == 1
    assert store.search(SearchQuery(q="三天")).total == 0  # old tokens are gone from the index


def test_get_and_get_many(store):
    assert store.get("t:2").source_type.value == "hotline"
    assert store.get("nope") is None
    assert [p.id for p in store.get_many(["t:3", "missing", "t:1"])] == ["t:3", "t:1"]


def test_search_words_and_time_sort(store):
    r = store.search(SearchQuery(q="物业"))
    assert ids(r) == ["t:0", "t:1", "t:4"]
    assert r.total == 3
    assert "<em>物业</em>" in r.hits[0].highlights["text"]


def test_search_or_not_phrase(store):
    assert set(ids(store.search(SearchQuery(q="暖气 OR 停水")))) == {"t:2", "t:3"}
    assert ids(store.search(SearchQuery(q="物业 -电梯"))) == ["t:1", "t:4"]
    assert ids(store.search(SearchQuery(q='"暖气不热"'))) == ["t:2"]


@pytest.mark.parametrize(
    "field,values,expected",
    [
        ("source_type", ["hotline"], {"t:2"}),
        ("source", ["licheng-news", "tieba"], {"t:3", "t:30"}),
        ("sentiment", ["positive"], {"t:4"}),
        ("category", ["utilities"], {"t:2", "t:3"}),
        ("risk", ["critical", "elevated"], {"t:1", "t:30"}),
        ("street", ["东风街道"], {"t:2", "t:3"}),
        ("community", ["花园北区社区"], {"t:0", "t:1", "t:4"}),
        ("grid_id", ["G002"], {"t:2", "t:3"}),
    ],
)
def test_every_filter(store, field, values, expected):
    r = store.search(SearchQuery(filters=Filters(**{field: values}), size=50))
    assert set(ids(r)) == expected
    assert store.count(Filters(**{field: values})) == len(expected)


def test_time_range_filter(store):
    f = Filters(
        since=NOW - timedelta(days=7), until=NOW - timedelta(hours=1) + timedelta(seconds=1)
    )
    assert set(ids(store.search(SearchQuery(filters=f, size=50)))) == {"t:1", "t:2", "t:3", "t:4"}


def test_engagement_and_relevance_sort(store):
    r = store.search(SearchQuery(sort="engagement", size=2))
    assert ids(r)[:2] == ["t:1", "t:0"]
    rel = store.search(SearchQuery(q="物业", sort="relevance"))
    assert set(ids(rel)) == {"t:0", "t:1", "t:4"}
    assert all(h.score is not None for h in rel.hits)


@pytest.mark.parametrize("sort", ["time", "engagement", "relevance"])
def test_cursor_pagination_visits_each_once(store, sort):
    q = "物业 OR 暖气 OR 停水 OR 工资" if sort == "relevance" else None
    seen, cursor = [], None
    for _ in range(10):
        r = store.search(SearchQuery(q=q, sort=sort, size=2, cursor=cursor))
        seen.extend(ids(r))
        cursor = r.next_cursor
        if cursor is None:
            break
    expected = 6
    assert len(seen) == len(set(seen)) == expected


def test_timeline_by_hour_and_day_with_split(store):
    f = Filters(since=NOW - timedelta(days=7))
    hours = store.timeline(f, interval="hour")
    assert sum(b.count for b in hours) == 5
    assert all(b.t.minute == 0 for b in hours)
    days = store.timeline(f, interval="day", split="sentiment")
    assert sum(b.count for b in days) == 5
    total_by = {}
    for b in days:
        for k, v in b.by.items():
            total_by[k] = total_by.get(k, 0) + v
        assert b.t.astimezone(SHANGHAI).hour == 0  # local midnight buckets
    assert total_by == {"negative": 3, "neutral": 1, "positive": 1}


@pytest.mark.parametrize(
    "field", ["grid_id", "street", "community", "category", "sentiment", "source", "source_type"]
)
def test_breakdown_every_field(store, field):
    buckets = store.breakdown(Filters(), field=field)
    assert sum(b.count for b in buckets) == sum(1 for p in corpus() if _value(p, field))
    assert buckets == sorted(buckets, key=lambda b: (-b.count, b.key))


def _value(p: Post, field: str):
    return {
        "grid_id": p.geo.grid_id if p.geo else None,
        "street": p.geo.street if p.geo else None,
        "community": p.geo.community if p.geo else None,
        "category": p.category.label if p.category else None,
        "sentiment": p.sentiment.label if p.sentiment else None,
        "source": p.source,
        "source_type": p.source_type.value,
    }[field]


def test_breakdown_negative_counts(store):
    by_street = {b.key: b for b in store.breakdown(Filters(), field="street")}
    assert by_street["洪家楼街道"].count == 3 and by_street["洪家楼街道"].negative == 2


def test_keywords_for_a_filter(store):
    kws = store.keywords(Filters(community=["花园北区社区"]))
    assert kws[0].word == "物业" and kws[0].count == 2


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '""',
        "'",
        '物业"',
        "NEAR(a b)",
        "a AND OR NOT",
        "*",
        "物业*",
        "^物业",
        "col:物业",
        "'; DROP TABLE posts; --",
        "🙂🙂🙂",
        "\x00\x01",
        "(((",
        ")",
        "-",
        "--",
        "OR",
        "物业 OR",
        "{}[]",
        "物业 " * 40,
    ],
)
def test_hostile_queries_never_raise_server_errors(store, q):
    try:
        r = store.search(SearchQuery(q=q))
    except QueryError:
        return  # a clean, explained 400
    assert r.total >= 0
    assert store.count(Filters()) == 6  # nothing was dropped


def test_overlong_query_is_a_query_error(store):
    with pytest.raises(QueryError):
        store.search(SearchQuery(q="物" * 10_000))


def test_invalid_cursor_is_a_query_error(store):
    for bad in ("???", "bm90IGpzb24", "WzEsMiwzLDRd"):
        with pytest.raises(QueryError):
            store.search(SearchQuery(cursor=bad))


def test_iter_posts_visits_all(store):
    assert sorted(p.id for p in store.iter_posts(Filters(), batch_size=2)) == sorted(
        p.id for p in corpus()
    )


def test_duplicate_count_on_hits(store):
    dup = make_post(40, "小区物业不作为，电梯坏了三天没人修！", duplicate_of="t:0")
    store.upsert([dup])
    getattr(store, "refresh", lambda: None)()
    r = store.search(SearchQuery(filters=Filters(ids=["t:0"])))
    assert r.hits[0].duplicate_count == 1
    assert store.count(Filters(exclude_duplicates=True)) == 6


def test_timezone_is_kept(store):
    p = store.get("t:0")
    assert p.published_at.astimezone(UTC) == (NOW).astimezone(UTC)


def test_same_id_twice_in_one_batch_keeps_the_last(store):
    a = make_post(50, "第一版：下水道堵塞")
    b = make_post(50, "第二版：井盖丢失")
    store.upsert([a, b])
    getattr(store, "refresh", lambda: None)()
    assert store.count(Filters(ids=["t:50"])) == 1
    assert store.search(SearchQuery(q="井盖")).total == 1
    assert store.search(SearchQuery(q="下水道")).total == 0


def test_word_found_whichever_way_context_segments_it(store):
    # jieba keeps 步道 whole in one sentence and splits it in another; a search finds both
    texts = ["小区里的健身步道年久失修", "新修的步道很漂亮", "滨河步道有人骑电动车"]
    store.upsert([make_post(60 + i, t) for i, t in enumerate(texts)])
    getattr(store, "refresh", lambda: None)()
    r = store.search(SearchQuery(q="步道"))
    assert sorted(ids(r)) == ["t:60", "t:61", "t:62"]
    assert all("<em>步道</em>" in h.highlights["text"] for h in r.hits)


def test_time_order_holds_for_out_of_order_arrivals_and_moves(store):
    import random

    rnd = random.Random(5)
    hours = list(range(100, 160))
    rnd.shuffle(hours)  # arrive in random time order, several in the same second
    batch = [
        make_post(1000 + i, f"第{i}处井盖丢失了", published_at=NOW - timedelta(hours=h // 2))
        for i, h in enumerate(hours)
    ]
    store.upsert(batch[:30])
    store.upsert(batch[30:])
    moved = make_post(1000, "第0处井盖丢失了", published_at=NOW - timedelta(minutes=5))  # re-dated
    store.upsert([moved])
    getattr(store, "refresh", lambda: None)()
    seen, cursor = [], None
    for _ in range(20):
        r = store.search(SearchQuery(q="井盖", size=7, cursor=cursor))
        seen.extend((h.post.published_at, h.post.id) for h in r.hits)
        cursor = r.next_cursor
        if cursor is None:
            break
    assert len(seen) == len({i for _, i in seen}) == 60
    assert [t for t, _ in seen] == sorted((t for t, _ in seen), reverse=True)
    assert seen[0][1] == "t:1000"
    window = Filters(since=NOW - timedelta(hours=1))
    assert [h.post.id for h in store.search(SearchQuery(q="井盖", filters=window)).hits] == [
        "t:1000"
    ]
    assert store.count(Filters(ids=[p.id for p in batch])) == 60
