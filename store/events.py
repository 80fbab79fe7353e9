"""Event records and event queries, shared by every store backend.

An event groups the posts about one incident (see :mod:`nlp.events`). Backends store the
whole record and index the fields below for filters and sorts; nothing here is SQL- or
Elasticsearch-specific.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.schema import SHANGHAI

EVENT_SORTS = ("heat", "last_seen", "first_seen", "post_count")
HOURLY_KEEP = 7 * 24  # hourly post counts kept per event (for trend and the timeline)


class Event(BaseModel):
    id: str
    title: str
    first_seen: datetime
    last_seen: datetime
    post_count: int = 0
    engagement: int = 0
    sources: dict[str, int] = {}
    source_types: dict[str, int] = {}
    grids: dict[str, int] = {}
    streets: dict[str, int] = {}
    communities: dict[str, int] = {}
    categories: dict[str, int] = {}
    risk: Literal["none", "elevated", "critical"] = "none"
    keywords: list[str] = []
    heat: float = 0.0
    trend: str = "new"
    representative_id: str | None = None
    hourly: dict[str, int] = Field(default_factory=dict, description="hour start (epoch s) → posts")
    terms: dict[str, float] = Field(default_factory=dict, description="clustering centroid")

    @property
    def category(self) -> str | None:
        return (
            max(self.categories.items(), key=lambda kv: (kv[1], kv[0]))[0]
            if self.categories
            else None
        )

    @property
    def street(self) -> str | None:
        return max(self.streets.items(), key=lambda kv: (kv[1], kv[0]))[0] if self.streets else None

    def public(self, now: datetime | None = None) -> dict:
        """The API form: without the clustering centroid, with the trend as of ``now``."""
        out = self.model_dump(mode="json", exclude={"terms", "hourly"})
        out["trend"] = event_trend(self, now) if now is not None else self.trend
        out["category"] = self.category
        out["street"] = self.street
        return out


def event_heat(e: Event) -> float:
    """Heat = 10·ln(1+posts) + 4·ln(1+engagement) + 8·ln(sources) + 8·ln(source types).

    Log weights so a repost storm or one viral post cannot dwarf an incident reported by
    several independent sources; spread across sources and platforms adds heat only from
    the second source on (ln 1 = 0).
    """
    return round(
        10 * math.log1p(e.post_count)
        + 4 * math.log1p(e.engagement)
        + 8 * math.log(max(1, len(e.sources)))
        + 8 * math.log(max(1, len(e.source_types))),
        3,
    )


def event_trend(e: Event, now: datetime, window_h: int = 6) -> str:
    """new / rising / steady / falling / quiet: posts in the last 6 h against the 6 h before."""
    now_ts = int(now.timestamp())
    if e.first_seen.timestamp() >= now_ts - window_h * 3600:
        return "new"
    recent = prev = 0
    for k, n in e.hourly.items():
        age = now_ts - int(k)
        if 0 <= age < window_h * 3600:
            recent += n
        elif window_h * 3600 <= age < 2 * window_h * 3600:
            prev += n
    if recent == 0 and prev == 0:
        return "quiet"
    if recent >= 1.5 * prev + 1:
        return "rising"
    if prev >= 1.5 * recent + 1:
        return "falling"
    return "steady"


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None  # last_seen ≥ since
    until: datetime | None = None  # first_seen < until
    street: list[str] = []
    grid_id: list[str] = []
    category: list[str] = []
    risk: list[str] = []
    source_type: list[str] = []
    min_posts: int = Field(1, ge=1)
    q: str | None = Field(None, max_length=200, description="text in the title")
    sort: Literal["heat", "last_seen", "first_seen", "post_count"] = "heat"
    size: int = Field(20, ge=1, le=1000)
    cursor: str | None = None

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            v = v.replace(tzinfo=SHANGHAI)
        return v


class EventResult(BaseModel):
    total: int
    events: list[Event]
    next_cursor: str | None = None


def hour_key(ts: int) -> str:
    return str(ts - ts % 3600)


def prune_hourly(hourly: dict[str, int], newest_ts: int) -> dict[str, int]:
    horizon = newest_ts - HOURLY_KEEP * 3600
    return {k: v for k, v in hourly.items() if int(k) >= horizon}


__all__ = [
    "EVENT_SORTS",
    "Event",
    "EventQuery",
    "EventResult",
    "event_heat",
    "event_trend",
    "hour_key",
    "prune_hourly",
]
