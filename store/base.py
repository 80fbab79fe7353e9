"""The Store protocol and the query types every backend understands.

Filters are plain data so the API, the CLI, the alert engine and both backends share one
vocabulary ("any store filter" in an alert rule is exactly :class:`Filters`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.schema import SHANGHAI, Post
from store.events import Event, EventQuery, EventResult

# Fields that can be filtered and broken down by; the same names in the API, rules and backends.
KEYWORD_FIELDS = (
    "source",
    "source_type",
    "sentiment",
    "category",
    "risk",
    "street",
    "community",
    "grid_id",
    "district",
    "geo_level",
    "event_id",
)
TOTAL_CAP = 10_000  # totals above this are reported as "gte", like Elasticsearch's track_total_hits


class StoreError(Exception):
    """A backend failure worth telling the user about (connection, corruption)."""


class StoreUnavailable(StoreError):
    """The backend is down or overloaded: try again later; the records themselves are fine.

    The processor keeps such a batch in the inbox without counting an attempt, so an outage of
    a remote store never dead-letters a post.
    """


class QueryError(ValueError):
    """The user's query cannot be run as given; the message says why (HTTP 400)."""


class KeywordFilters(BaseModel):
    """The exact-value filters every backend answers (shared by searches and alert rules)."""

    model_config = ConfigDict(extra="forbid")

    source: list[str] = []
    source_type: list[str] = []
    sentiment: list[str] = []
    category: list[str] = []
    risk: list[str] = []
    street: list[str] = []
    community: list[str] = []
    grid_id: list[str] = []
    district: list[str] = []
    geo_level: list[str] = []
    event_id: list[str] = []

    def keyword_filters(self) -> dict[str, list[str]]:
        return {f: getattr(self, f) for f in KEYWORD_FIELDS if getattr(self, f)}


class Filters(KeywordFilters):
    since: datetime | None = None
    until: datetime | None = None
    ids: list[str] = []
    exclude_duplicates: bool = False

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            v = v.replace(tzinfo=SHANGHAI)
        return v


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = None
    filters: Filters = Filters()
    sort: Literal["time", "relevance", "engagement"] = "time"
    size: int = Field(20, ge=1, le=200)
    cursor: str | None = None
    highlight: bool = True


class Hit(BaseModel):
    post: Post
    score: float | None = None
    highlights: dict[str, str] = {}
    duplicate_count: int = 0


class SearchResult(BaseModel):
    total: int
    total_relation: Literal["eq", "gte"] = "eq"
    hits: list[Hit]
    next_cursor: str | None = None


class Bucket(BaseModel):
    key: str
    count: int
    negative: int = 0


class TimeBucket(BaseModel):
    t: datetime
    count: int
    by: dict[str, int] = {}


class KeywordCount(BaseModel):
    word: str
    count: int


def check_timeline_args(interval: str, split: str | None) -> None:
    """The same 400s on every backend for a bad interval or split field."""
    if interval not in ("hour", "day"):
        raise QueryError("interval must be hour or day")
    if split is not None and split not in KEYWORD_FIELDS:
        raise QueryError(f"cannot split by {split!r}; use one of {', '.join(KEYWORD_FIELDS)}")


def check_breakdown_field(field: str) -> None:
    if field not in KEYWORD_FIELDS:
        raise QueryError(f"cannot break down by {field!r}; use one of {', '.join(KEYWORD_FIELDS)}")


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, expected_len: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise QueryError("invalid cursor") from None
    if not isinstance(values, list) or len(values) != expected_len:
        raise QueryError("invalid cursor")
    return values


@runtime_checkable
class Store(Protocol):
    """What the service needs from an index. Every method must be safe for hostile input."""

    backend: str

    def upsert(self, posts: list[Post]) -> None:
        """Insert or replace posts by id, all or nothing."""

    def get(self, post_id: str) -> Post | None: ...

    def get_many(self, ids: list[str]) -> list[Post]: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def count(self, filters: Filters, q: str | None = None) -> int: ...

    def timeline(
        self,
        filters: Filters,
        interval: Literal["hour", "day"] = "hour",
        split: str | None = None,
        q: str | None = None,
    ) -> list[TimeBucket]: ...

    def breakdown(
        self, filters: Filters, field: str, size: int = 50, q: str | None = None
    ) -> list[Bucket]: ...

    def keywords(
        self, filters: Filters, size: int = 30, q: str | None = None
    ) -> list[KeywordCount]: ...

    def iter_posts(self, filters: Filters, batch_size: int = 1000) -> Iterator[Post]: ...

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    # events (store/events.py): incidents grouping posts, written by the events component
    def upsert_events(self, events: list[Event]) -> None:
        """Insert or replace events by id."""

    def get_event(self, event_id: str) -> Event | None: ...

    def search_events(self, query: EventQuery) -> EventResult: ...
