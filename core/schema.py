"""The post record every line (crawler, hotline, petitions, API) is normalised into.

Enrichment fields start empty and are filled by the pipeline components, so the same
record travels crawler → queue → enrichment → store → alerts → API unchanged in shape.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 1_000

_TRACKING_PARAMS = {
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "spm",
    "from",
}


class SourceType(StrEnum):
    news = "news"
    forum = "forum"
    microblog = "microblog"
    hotline = "hotline"
    petition = "petition"
    message_board = "message_board"


SENTIMENT_LABELS = ("negative", "neutral", "positive")
RISK_LEVELS = ("none", "elevated", "critical")
GEO_LEVELS = ("grid", "community", "street", "district", "outside", "unlocated")


def canonical_url(url: str) -> str:
    """Lower-case scheme/host, drop fragments and tracking parameters, sort the query."""
    parts = urlsplit(url.strip())
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in _TRACKING_PARAMS
    )
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def make_post_id(source: str, native_id: str | None = None, url: str | None = None) -> str:
    """Stable id: the source-native id when the source has one, else a hash of source + canonical URL."""
    if native_id:
        return f"{source}:{native_id}"
    if not url:
        raise ValueError("a post needs either a source-native id or a url")
    digest = hashlib.sha1(f"{source}|{canonical_url(url)}".encode()).hexdigest()[:20]
    return f"{source}:{digest}"


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hash: str | None = Field(None, description="salted hash of the source's author id")
    name: str | None = Field(None, max_length=200, description="display name as shown publicly")


class Engagement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    likes: int = Field(0, ge=0)
    reposts: int = Field(0, ge=0)
    comments: int = Field(0, ge=0)
    views: int = Field(0, ge=0)

    @property
    def total(self) -> int:
        return self.likes + self.reposts + self.comments


class Coordinates(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"


class Sentiment(BaseModel):
    label: Literal["negative", "neutral", "positive"]
    score: float
    probs: dict[str, float] = {}
    model_version: str | None = None


class Category(BaseModel):
    label: str
    name: str | None = None
    score: float = 1.0
    model_version: str | None = None


class RiskSignal(BaseModel):
    kind: str
    words: list[str] = []
    rule: str
    level: Literal["none", "elevated", "critical"] = "elevated"


class Risk(BaseModel):
    level: Literal["none", "elevated", "critical"] = "none"
    signals: list[RiskSignal] = []
    score: float = 0.0
    model_version: str | None = None


class Geo(BaseModel):
    grid_id: str | None = None
    special_grid_ids: list[str] = []
    community: str | None = None
    street: str | None = None
    district: str | None = None
    level: Literal["grid", "community", "street", "district", "outside", "unlocated"] = "unlocated"
    method: str | None = None
    confidence: float = 0.0
    matched: list[str] = []


class Post(BaseModel):
    """One public post, hotline work order or petition."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(..., min_length=1, max_length=300)
    source: str = Field(..., min_length=1, max_length=100)
    source_type: SourceType
    url: str | None = Field(None, max_length=4000)
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS)
    author: Author = Author()
    published_at: datetime
    fetched_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    engagement: Engagement = Engagement()
    coordinates: Coordinates | None = None
    author_location: str | None = Field(None, max_length=100)
    address: str | None = Field(
        None, max_length=500, description="address given by hotline/petition records"
    )
    parent_id: str | None = Field(
        None, max_length=300, description="original post of a repost / reply"
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="source-specific fields (kept small)"
    )

    # enrichment, filled by the pipeline
    sentiment: Sentiment | None = None
    category: Category | None = None
    risk: Risk | None = None
    geo: Geo | None = None
    keywords: list[str] = []
    event_id: str | None = None
    duplicate_of: str | None = None
    duplicate_count: int = 0

    @field_validator("published_at", "fetched_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        # Chinese sources often print local time without an offset: that is Beijing time.
        if v.tzinfo is None:
            v = v.replace(tzinfo=SHANGHAI)
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = v.replace("\x00", "")
        if not v.strip():
            raise ValueError("text is empty")
        return v

    @model_validator(mode="after")
    def _not_future(self) -> Post:
        if self.published_at > datetime.now(UTC) + timedelta(days=1):
            raise ValueError(f"published_at {self.published_at.isoformat()} is in the future")
        return self

    @property
    def full_text(self) -> str:
        return (
            f"{self.title}\n{self.text}"
            if self.title and self.title not in self.text
            else self.text
        )

    @property
    def published_ts(self) -> int:
        return int(self.published_at.timestamp())


def validation_message(exc: Exception, record_hint: str) -> str:
    """One line naming the record and every failing field (pydantic's own text is multi-line)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return f"record {record_hint}: " + "; ".join(parts)
    return f"record {record_hint}: {exc}"
