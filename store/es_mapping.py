"""Index layout for the Elasticsearch backend: names, the index template, the ILM policy and the
document written for each post.

Why this shape: the document *is* the post JSON (so ``_source`` gives the record back
unchanged and sentiment/category/risk/geo are ordinary objects), plus a few helper fields that
make ES answer exactly like the embedded store:

* ``body_tokens``: the app's own segmentation (``nlp.segment.index_tokens``) joined by spaces
  and analysed with ``whitespace`` + ``lowercase`` — the same tokens FTS5 indexes, so a word
  matches the same posts on both backends;
* ``ts``: ``published_at`` truncated to the second, in epoch milliseconds — the embedded store
  keeps seconds, and filters/sorts/buckets use this field so boundaries agree exactly;
* ``seq``: an insertion sequence kept across updates, the tie-breaker that plays the role of
  SQLite's rowid (same order for posts published in the same second; migration copies rowids);
* ``engagement_total``, ``grid_ids`` (main grid + special grids, the grid filter),
  ``location`` (``geo_point``, converted to WGS-84 from GCJ-02/BD-09 when needed).

``dynamic: false`` keeps every other field in ``_source`` without indexing it, so the post
schema can grow without a mapping change.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from core.schema import Post
from nlp.segment import index_tokens

TEMPLATE_VERSION = 1  # bump when the mapping or settings below change; `yuqing es setup` upgrades
ANALYZER = "yuqing_ws"
HELPER_FIELDS = ("body_tokens", "ts", "seq", "engagement_total", "grid_ids", "location")
MAX_ID_BYTES = 512  # Elasticsearch's limit for _id


@dataclass(frozen=True)
class IndexNames:
    """Every name derived from one prefix, so several deployments can share a cluster."""

    prefix: str

    @property
    def posts_alias(self) -> str:
        return f"{self.prefix}-posts"

    @property
    def posts_pattern(self) -> str:
        return f"{self.prefix}-posts-*"

    @property
    def first_posts_index(self) -> str:
        # rollover names the next one -000002, -000003, …
        return f"{self.prefix}-posts-000001"

    @property
    def template(self) -> str:
        return f"{self.prefix}-posts"

    @property
    def policy(self) -> str:
        return f"{self.prefix}-posts"

    @property
    def events_index(self) -> str:
        return f"{self.prefix}-events"


def doc_id(post_id: str) -> str:
    """The ES ``_id`` of a post: its id, or a digest when the id is longer than ES allows."""
    if len(post_id.encode("utf-8")) <= MAX_ID_BYTES:
        return post_id
    return "sha1:" + hashlib.sha1(post_id.encode("utf-8")).hexdigest()


_KW = {"type": "keyword"}
_KW_NO_DOCS = {"type": "keyword", "doc_values": False}
_FLOAT = {"type": "float"}
_LONG = {"type": "long"}


def posts_mappings() -> dict[str, Any]:
    return {
        "dynamic": False,
        "_meta": {"app": "yuqing", "template_version": TEMPLATE_VERSION},
        "properties": {
            "id": _KW,
            "seq": _LONG,
            "source": _KW,
            "source_type": _KW,
            "url": _KW_NO_DOCS,
            "author": {"properties": {"hash": _KW}},
            "published_at": {"type": "date"},
            "fetched_at": {"type": "date"},
            "ts": {"type": "date", "format": "epoch_millis"},
            "engagement": {
                "properties": {"likes": _LONG, "reposts": _LONG, "comments": _LONG, "views": _LONG}
            },
            "engagement_total": _LONG,
            "location": {"type": "geo_point"},
            "author_location": _KW,
            "parent_id": _KW,
            "body_tokens": {"type": "text", "analyzer": ANALYZER},
            "sentiment": {"properties": {"label": _KW, "score": _FLOAT, "model_version": _KW}},
            "category": {
                "properties": {"label": _KW, "name": _KW, "score": _FLOAT, "model_version": _KW}
            },
            "risk": {
                "properties": {
                    "level": _KW,
                    "score": _FLOAT,
                    "model_version": _KW,
                    "signals": {
                        "properties": {"kind": _KW, "words": _KW, "rule": _KW, "level": _KW}
                    },
                }
            },
            "geo": {
                "properties": {
                    "grid_id": _KW,
                    "special_grid_ids": _KW,
                    "community": _KW,
                    "street": _KW,
                    "district": _KW,
                    "level": _KW,
                    "method": _KW,
                    "confidence": _FLOAT,
                    "matched": _KW,
                }
            },
            "grid_ids": _KW,
            "keywords": _KW,
            "event_id": _KW,
            "duplicate_of": _KW,
        },
    }


def posts_settings(shards: int, replicas: int, policy: str | None, alias: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "analysis": {
            "analyzer": {
                ANALYZER: {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
            }
        },
    }
    if policy:
        settings["index.lifecycle.name"] = policy
        settings["index.lifecycle.rollover_alias"] = alias
    return settings


def posts_template(names: IndexNames, shards: int, replicas: int, with_ilm: bool) -> dict[str, Any]:
    """The body of ``PUT _index_template/<prefix>-posts``."""
    return {
        "index_patterns": [names.posts_pattern],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"app": "yuqing", "managed_by": "yuqing es setup"},
        "template": {
            "settings": posts_settings(
                shards, replicas, names.policy if with_ilm else None, names.posts_alias
            ),
            "mappings": posts_mappings(),
        },
    }


def ilm_policy(max_age: str, max_primary_shard_size: str, delete_after: str | None) -> dict:
    """Hot indices roll over by age or size; optional deletion after ``delete_after``."""
    phases: dict[str, Any] = {
        "hot": {
            "actions": {
                "rollover": {"max_age": max_age, "max_primary_shard_size": max_primary_shard_size}
            }
        },
        "warm": {"min_age": "7d", "actions": {"forcemerge": {"max_num_segments": 1}}},
    }
    if delete_after:
        phases["delete"] = {"min_age": delete_after, "actions": {"delete": {}}}
    return {"phases": phases, "_meta": {"app": "yuqing"}}


def rollover_conditions(max_age: str, max_primary_shard_size: str) -> dict[str, str]:
    return {"max_age": max_age, "max_primary_shard_size": max_primary_shard_size}


class SeqClock:
    """Monotonic insertion numbers (microseconds since the epoch, never repeating in a process).

    Several processors may write at once; a collision only matters for two posts published in
    the same second with the same microsecond stamp, and sorts end with the post id anyway.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        now = time.time_ns() // 1000
        self._last = max(self._last + 1, now)
        return self._last


def post_document(post: Post, seq: int) -> dict[str, Any]:
    """The JSON document indexed for one post: the post itself plus the helper fields."""
    doc = post.model_dump(mode="json")
    geo = post.geo
    grids: list[str] = []
    if geo is not None:
        if geo.grid_id:
            grids.append(geo.grid_id)
        grids.extend(g for g in geo.special_grid_ids if g)
    doc["body_tokens"] = " ".join(index_tokens(post.full_text))
    doc["ts"] = post.published_ts * 1000
    doc["seq"] = seq
    doc["engagement_total"] = post.engagement.total
    doc["grid_ids"] = list(dict.fromkeys(grids))
    c = post.coordinates
    if c is not None:
        doc["location"] = wgs84_point(c.lon, c.lat, c.crs)
    return doc


def wgs84_point(lon: float, lat: float, crs: str) -> dict[str, float]:
    """A geo_point in WGS-84 (GCJ-02/BD-09 from Chinese map apps are ~500 m off otherwise)."""
    if crs != "wgs84":
        from geo.crs import to_wgs84

        x, y = to_wgs84(lon, lat, crs)
        lon, lat = float(x), float(y)
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


def post_from_source(source: dict[str, Any]) -> Post:
    """Back from ``_source`` to the record (helper fields dropped; the schema forbids extras)."""
    data = {k: v for k, v in source.items() if k not in HELPER_FIELDS}
    return Post.model_validate(data)
