"""Golden files of every Elasticsearch request body the backend sends (no cluster needed).

A change to a query shape shows up as a diff of ``tests/golden/es/*.json``; after checking it,
regenerate with ``YUQING_REGEN_GOLDEN=1 pytest tests/test_es_queries.py``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from core.schema import SHANGHAI
from store import es_query as Q
from store.base import Filters, QueryError
from store.es_events import events_mappings, events_query_body
from store.es_mapping import IndexNames, ilm_policy, posts_template
from store.events import EventQuery
from store.querytext import ParsedQuery, Term

GOLDEN = Path(__file__).parent / "golden" / "es"
REGEN = os.environ.get("YUQING_REGEN_GOLDEN") == "1"

SINCE = datetime(2026, 11, 13, 12, 0, 0, 500000, tzinfo=SHANGHAI)
UNTIL = datetime(2026, 11, 20, 12, 0, tzinfo=SHANGHAI)
ALL_FILTERS = Filters(
    since=SINCE,
    until=UNTIL,
    source=["weibo"],
    source_type=["microblog", "forum"],
    sentiment=["negative"],
    category=["property"],
    risk=["elevated", "critical"],
    street=["洪家楼街道"],
    community=["花园北区社区"],
    grid_id=["G001"],
    district=["历城区"],
    geo_level=["grid"],
    event_id=["ev:1"],
    ids=["t:1", "t:2"],
    exclude_duplicates=True,
)
# 物业 OR 暖气 "暖气不热" -电梯 (built by hand so the goldens do not depend on the segmenter)
PARSED = ParsedQuery(
    groups=[[Term(["物业"]), Term(["暖气"])], [Term(["暖气", "不热"])]],
    excluded=[Term(["电梯"], negated=True)],
)
ONE_WORD = ParsedQuery(groups=[[Term(["物业"])]])
TZ = 8 * 3600

SHAPES = {
    "search_time_all_filters": lambda: Q.search_body(ALL_FILTERS, PARSED, "time", 20),
    "search_time_cursor": lambda: Q.search_body(
        Filters(since=SINCE), None, "time", 20, [1763611200000, 42, "t:9"]
    ),
    "search_engagement_cursor": lambda: Q.search_body(
        Filters(), None, "engagement", 50, [57, 1763611200000, 42, "t:9"]
    ),
    "search_relevance": lambda: Q.search_body(
        Filters(street=["东风街道"]), ONE_WORD, "relevance", 10, [40]
    ),
    "search_match_all": lambda: Q.search_body(Filters(), None, "time", 20),
    "count_text_and_filters": lambda: Q.count_body(Filters(grid_id=["G002"]), PARSED),
    "timeline_hour": lambda: Q.timeline_body(Filters(since=SINCE), None, "hour", None, TZ),
    "timeline_day_split": lambda: Q.timeline_body(
        Filters(since=SINCE), ONE_WORD, "day", "sentiment", TZ
    ),
    "breakdown_street": lambda: Q.breakdown_body(Filters(since=SINCE), None, "street", 50),
    "breakdown_grid": lambda: Q.breakdown_body(Filters(), ONE_WORD, "grid_id", 10),
    "keywords": lambda: Q.keywords_body(Filters(community=["花园北区社区"]), None, 30),
    "duplicate_counts": lambda: Q.duplicate_counts_body(["t:0", "t:1"]),
    "iter_posts": lambda: Q.iter_body(Filters(source=["weibo"]), 1000, [17, "t:3"]),
    "index_template": lambda: posts_template(IndexNames("yuqing"), 3, 1, True),
    "index_template_no_ilm": lambda: posts_template(IndexNames("yuqing"), 1, 0, False),
    "ilm_policy": lambda: ilm_policy("30d", "50gb", "365d"),
    "events_query": lambda: events_query_body(
        EventQuery(
            since=SINCE,
            until=UNTIL,
            street=["洪家楼街道"],
            grid_id=["G001"],
            category=["utilities"],
            risk=["critical"],
            source_type=["hotline"],
            min_posts=3,
            q="暖气*",
        )
    ),
    "events_mappings": events_mappings,
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_query_body_matches_golden(name):
    body = SHAPES[name]()
    text = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if REGEN or not path.exists():
        if not REGEN:
            pytest.fail(f"missing golden file {path}; run with YUQING_REGEN_GOLDEN=1")
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see {path}"


def test_every_golden_file_has_a_shape():
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(SHAPES)


def test_time_filters_truncate_to_the_second_like_the_embedded_store():
    body = Q.search_body(Filters(since=SINCE, until=UNTIL), None, "time", 5)
    rng = body["query"]["bool"]["filter"][0]["range"]["ts"]
    assert rng == {"gte": int(SINCE.timestamp()) * 1000, "lt": int(UNTIL.timestamp()) * 1000}


def test_grid_filter_uses_every_grid_but_breakdown_the_main_one():
    flt = Q.bool_query(Filters(grid_id=["G1"]), None)["bool"]["filter"]
    assert flt == [{"terms": {"grid_ids": ["G1"]}}]
    agg = Q.breakdown_body(Filters(), None, "grid_id", 5)["aggs"]["breakdown"]["terms"]
    assert agg["field"] == "geo.grid_id"


@pytest.mark.parametrize(
    "mode,values",
    [
        ("time", [1, 2]),
        ("time", [1, 2, 3]),
        ("time", ["x", 2, "t:1"]),
        ("time", [True, 2, "t:1"]),
        ("engagement", [1, 2, 3, 4]),
        ("relevance", ["1.5"]),
        ("relevance", [-5]),
        ("relevance", [1.5]),
    ],
)
def test_forged_cursors_are_query_errors(mode, values):
    with pytest.raises(QueryError):
        Q.check_cursor(mode, values)


def test_valid_cursor_passes():
    assert Q.check_cursor("relevance", [40]) == [40]
    assert Q.check_cursor("time", [1, 2, "t:1"]) == [1, 2, "t:1"]


def test_relevance_offsets_stop_at_the_result_window():
    with pytest.raises(QueryError, match="sort by time"):
        Q.search_body(Filters(), ONE_WORD, "relevance", 20, [9990])


def test_tz_string():
    assert Q.tz_string(8 * 3600) == "+08:00"
    assert Q.tz_string(-(5 * 3600 + 1800)) == "-05:30"
