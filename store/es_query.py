"""Pure builders of Elasticsearch request bodies (no I/O), so every query shape has a golden file.

Each builder mirrors one SQL statement of ``store/sqlite.py``; where the two engines differ the
comment says how the answer is kept identical.
"""

from __future__ import annotations

from typing import Any, Literal

from store.base import KEYWORD_FIELDS, TOTAL_CAP, Filters, QueryError
from store.querytext import ParsedQuery, Term

# where each filter/breakdown field lives in the document
FIELD_PATHS: dict[str, str] = {
    "source": "source",
    "source_type": "source_type",
    "sentiment": "sentiment.label",
    "category": "category.label",
    "risk": "risk.level",
    "street": "geo.street",
    "community": "geo.community",
    "grid_id": "geo.grid_id",  # breakdown/split: the main grid, like SQLite's grid_id column
    "district": "geo.district",
    "geo_level": "geo.level",
    "event_id": "event_id",
}
# filtering by grid also finds posts in a special grid (post_grids in SQLite)
FILTER_PATHS: dict[str, str] = {**FIELD_PATHS, "grid_id": "grid_ids"}
assert set(FIELD_PATHS) == set(KEYWORD_FIELDS)

SOURCE_EXCLUDES = ["body_tokens"]
MAX_SPLIT_TERMS = 10_000

SortMode = Literal["time", "engagement", "relevance"]

SORTS: dict[str, list[dict[str, Any]]] = {
    "time": [{"ts": "desc"}, {"seq": "desc"}, {"id": "desc"}],
    "engagement": [{"engagement_total": "desc"}, {"ts": "desc"}, {"seq": "desc"}, {"id": "desc"}],
    "relevance": [{"_score": "desc"}, {"seq": "desc"}, {"id": "desc"}],
}
# Relevance pages use an offset cursor, like the embedded store: ``search_after`` on float
# scores skips or repeats tied hits on the emulator, and relevance is rarely read past a few
# pages. Offsets stop at ES's default ``index.max_result_window``.
MAX_RESULT_WINDOW = 10_000
# the JSON type of each sort value, to reject forged cursors with a 400 instead of an ES error
_CURSOR_TYPES: dict[str, tuple[type, ...]] = {
    "time": (int, int, str),
    "engagement": (int, int, int, str),
    "relevance": (int,),
}


def seconds_ms(dt) -> int:
    """Epoch milliseconds of a datetime truncated to the second, as the embedded store compares."""
    return int(dt.timestamp()) * 1000


def tz_string(offset_seconds: int) -> str:
    sign = "+" if offset_seconds >= 0 else "-"
    m = abs(offset_seconds) // 60
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def term_query(term: Term) -> dict[str, Any]:
    """A term of the query: all of its tokens (FTS5 ``"a" AND "b"``; tokens are already lower)."""
    alts = []
    for alt in term.alternatives:  # precise tokens, or the whole word (see Term.alternatives)
        clauses = [{"term": {"body_tokens": tok}} for tok in alt]
        alts.append(clauses[0] if len(clauses) == 1 else {"bool": {"must": clauses}})
    return alts[0] if len(alts) == 1 else {"bool": {"should": alts, "minimum_should_match": 1}}


def text_clauses(parsed: ParsedQuery) -> tuple[list[dict], list[dict]]:
    """(must, must_not) for the parsed text: AND of groups, each an OR of terms."""
    must: list[dict] = []
    for group in parsed.groups:
        if len(group) == 1:
            must.append(term_query(group[0]))
        else:
            must.append(
                {"bool": {"should": [term_query(t) for t in group], "minimum_should_match": 1}}
            )
    must_not = [term_query(t) for t in parsed.excluded]
    return must, must_not


def filter_clauses(filters: Filters) -> tuple[list[dict], list[dict]]:
    """(filter, must_not) for the structured filters; all non-scoring."""
    out: list[dict] = []
    must_not: list[dict] = []
    rng: dict[str, int] = {}
    if filters.since is not None:
        rng["gte"] = seconds_ms(filters.since)
    if filters.until is not None:
        rng["lt"] = seconds_ms(filters.until)
    if rng:
        out.append({"range": {"ts": rng}})
    for field, values in filters.keyword_filters().items():
        out.append({"terms": {FILTER_PATHS[field]: list(values)}})
    if filters.ids:
        out.append({"terms": {"id": list(filters.ids)}})
    if filters.exclude_duplicates:
        must_not.append({"exists": {"field": "duplicate_of"}})
    return out, must_not


def bool_query(filters: Filters, parsed: ParsedQuery | None) -> dict[str, Any]:
    flt, must_not = filter_clauses(filters)
    must: list[dict] = []
    if parsed is not None and not parsed.empty:
        must, text_not = text_clauses(parsed)
        must_not = must_not + text_not
    if not (flt or must or must_not):
        return {"match_all": {}}
    body: dict[str, Any] = {}
    if must:
        body["must"] = must
    if flt:
        body["filter"] = flt
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


def cursor_len(mode: SortMode) -> int:
    return len(_CURSOR_TYPES[mode])


def check_cursor(mode: SortMode, values: list[Any]) -> list[Any]:
    types = _CURSOR_TYPES[mode]
    if len(values) != len(types):
        raise QueryError("invalid cursor")
    out: list[Any] = []
    for v, t in zip(values, types, strict=True):
        if isinstance(v, bool) or not isinstance(v, t):
            raise QueryError("invalid cursor")
        out.append(v)
    if mode == "relevance" and values[0] < 0:
        raise QueryError("invalid cursor")
    return out


def search_body(
    filters: Filters,
    parsed: ParsedQuery | None,
    mode: SortMode,
    size: int,
    search_after: list[Any] | None = None,
) -> dict[str, Any]:
    """One page of hits; ``size + 1`` are asked for to know whether there is a next page.

    ``after`` is the last hit's sort values (time, engagement) or ``[offset]`` (relevance).
    """
    body: dict[str, Any] = {
        "query": bool_query(filters, parsed),
        "sort": SORTS[mode],
        "size": size + 1,
        "track_total_hits": TOTAL_CAP,
        "_source": {"excludes": SOURCE_EXCLUDES},
    }
    if parsed is not None and not parsed.empty and mode != "relevance":
        body["track_scores"] = True  # hits carry a score whenever there is text, like FTS5
    if mode == "relevance":
        offset = int(search_after[0]) if search_after else 0
        if offset + size + 1 > MAX_RESULT_WINDOW:
            raise QueryError(
                f"relevance-sorted results stop at {MAX_RESULT_WINDOW:,}; sort by time to read further"
            )
        if offset:
            body["from"] = offset
    elif search_after is not None:
        body["search_after"] = search_after
    return body


def count_body(filters: Filters, parsed: ParsedQuery | None) -> dict[str, Any]:
    return {"query": bool_query(filters, parsed)}


def timeline_body(
    filters: Filters,
    parsed: ParsedQuery | None,
    interval: Literal["hour", "day"],
    split: str | None,
    tz_offset_seconds: int,
) -> dict[str, Any]:
    """Buckets at local (Beijing) hour/day boundaries, only non-empty ones (like GROUP BY)."""
    hist: dict[str, Any] = {
        "date_histogram": {
            "field": "ts",
            "calendar_interval": interval,
            "time_zone": tz_string(tz_offset_seconds),
            "min_doc_count": 1,
        }
    }
    if split is not None:
        # no "missing" bucket (the emulator ignores it): posts without a value are counted as
        # the bucket's doc_count minus the split buckets, and reported as "unknown"
        hist["aggs"] = {
            "by": {
                "terms": {
                    "field": FIELD_PATHS[split],
                    "size": MAX_SPLIT_TERMS,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        }
    return {
        "query": bool_query(filters, parsed),
        "size": 0,
        "track_total_hits": False,
        "aggs": {"timeline": hist},
    }


def breakdown_body(
    filters: Filters, parsed: ParsedQuery | None, field: str, size: int
) -> dict[str, Any]:
    """Top values by count (ties by key, like ``ORDER BY n DESC, k ASC``) with negative counts."""
    return {
        "query": bool_query(filters, parsed),
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "breakdown": {
                "terms": {
                    "field": FIELD_PATHS[field],
                    "size": size,
                    "shard_size": max(size * 2, size + 100),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                },
                "aggs": {"negative": {"filter": {"term": {"sentiment.label": "negative"}}}},
            }
        },
    }


def keywords_body(filters: Filters, parsed: ParsedQuery | None, size: int) -> dict[str, Any]:
    """Posts per keyword (a keyword counts once per post, like ``set(keywords)`` in SQLite)."""
    return {
        "query": bool_query(filters, parsed),
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "keywords": {
                "terms": {
                    "field": "keywords",
                    "size": size,
                    "shard_size": max(size * 2, size + 100),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        },
    }


def duplicate_counts_body(ids: list[str]) -> dict[str, Any]:
    return {
        "query": {"bool": {"filter": [{"terms": {"duplicate_of": list(ids)}}]}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {"dups": {"terms": {"field": "duplicate_of", "size": max(1, len(ids))}}},
    }


def iter_body(filters: Filters, size: int, search_after: list[Any] | None) -> dict[str, Any]:
    """Every post matching the filters in insertion order (SQLite: ``ORDER BY rowid``)."""
    body: dict[str, Any] = {
        "query": bool_query(filters, None),
        "sort": [{"seq": "asc"}, {"id": "asc"}],
        "size": size,
        "track_total_hits": False,
        "_source": {"excludes": SOURCE_EXCLUDES},
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body
