"""Events on Elasticsearch answer like the embedded store (noida-db emulator or $YUQING_ES_URL)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from es_emulator import drop_indices, es_config
from test_store_conformance import NOW

from store.base import QueryError
from store.elasticsearch import ElasticsearchStore
from store.events import Event, EventQuery, event_heat
from store.sqlite import SqliteStore

STREETS = ["洪家楼街道", "东风街道", "唐冶街道", "王舍人街道"]
TITLES = [
    "花园北区暖气不热",
    "唐冶工地拖欠工资",
    "东风路井盖丢失",
    "小区电梯故障*求助",
    "停水通知?",
]


def make_events(n: int = 120) -> list[Event]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        first = NOW - timedelta(hours=rnd.randint(1, 24 * 14))
        last = first + timedelta(hours=rnd.randint(0, 48))
        streets = {s: rnd.randint(1, 9) for s in rnd.sample(STREETS, rnd.randint(0, 2))}
        e = Event(
            id=f"ev:{i:04d}",
            title=f"{rnd.choice(TITLES)}（{i}）",
            first_seen=first,
            last_seen=last,
            post_count=rnd.randint(1, 40),
            engagement=rnd.randint(0, 500),
            sources={"weibo": 2, "tieba": 1} if i % 3 else {"weibo": 1},
            source_types={"microblog": 2, "forum": 1} if i % 3 else {"hotline": 1},
            grids={f"G{rnd.randint(1, 5):03d}": 1},
            streets=streets,
            categories={rnd.choice(["property", "utilities", "wages"]): 3},
            risk=rnd.choice(["none", "none", "elevated", "critical"]),
            keywords=["暖气"],
            hourly={str(int(last.timestamp()) // 3600 * 3600): 2},
            terms={"暖气": 0.5, "": 0.1, "a.b": 0.2},
        )
        e.heat = event_heat(e) if i % 10 else 42.0  # ties on heat: the next sort key decides
        out.append(e)
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    sqlite = SqliteStore(tmp_path_factory.mktemp("ev") / "s.db")
    cfg = es_config()
    es = ElasticsearchStore(cfg)
    events = make_events()
    sqlite.upsert_events(events)
    es.upsert_events(events)
    es.upsert_events(events[:10])  # idempotent
    es.refresh()
    yield sqlite, es
    sqlite.close()
    es.close()
    drop_indices(cfg)


QUERIES = [
    EventQuery(),
    EventQuery(sort="last_seen", size=7),
    EventQuery(sort="first_seen", since=NOW - timedelta(days=3)),
    EventQuery(sort="post_count", until=NOW - timedelta(days=2), min_posts=10),
    EventQuery(street=["洪家楼街道", "东风街道"], risk=["critical", "elevated"]),
    EventQuery(grid_id=["G002"], category=["wages"]),
    EventQuery(source_type=["hotline"]),
    EventQuery(q="暖气"),
    EventQuery(q="故障*求"),
    EventQuery(q="通知?"),
    EventQuery(q="*"),
    EventQuery(q="没有这样的标题"),
]


@pytest.mark.parametrize("qi", range(len(QUERIES)))
def test_search_events_identical(pair, qi):
    sqlite, es = pair
    query = QUERIES[qi]
    for _ in range(30):  # bounded walk over every page
        a, b = sqlite.search_events(query), es.search_events(query)
        assert a.total == b.total
        assert [e.model_dump() for e in a.events] == [e.model_dump() for e in b.events]
        assert (a.next_cursor is None) == (b.next_cursor is None)
        if a.next_cursor is None:
            break
        query = query.model_copy(update={"cursor": a.next_cursor})


def test_get_event(pair):
    sqlite, es = pair
    assert es.get_event("ev:0003") == sqlite.get_event("ev:0003")
    assert es.get_event("ev:0003").terms[""] == 0.1  # arbitrary keys survive
    assert es.get_event("nope") is None


def test_bad_event_cursor(pair):
    _, es = pair
    with pytest.raises(QueryError):
        es.search_events(EventQuery(cursor="WyJ4Il0"))


def test_migration_copies_events(pair, tmp_path):
    from core.db import connect
    from store.migrate import migrate

    sqlite, _ = pair
    cfg = es_config()
    target = ElasticsearchStore(cfg)
    try:
        res = migrate(sqlite, target, connect(tmp_path / "app.db"), progress=lambda s: None)
        assert res.events == 120
        target.refresh()
        assert target.search_events(EventQuery(size=1)).total == 120
    finally:
        target.close()
        drop_indices(cfg)
