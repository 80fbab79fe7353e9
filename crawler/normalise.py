"""Spider items → ``core.schema.Post`` records.

Spiders yield plain dicts with raw strings (dates as printed, counts like "1万+"); this is the
one place that turns them into posts, so every spider gets the same ids, privacy and parsing.
Anything that cannot be normalised still goes on as a record: the inbox validates it and
dead-letters it with the reason instead of it vanishing here.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Any

from core.privacy import hash_author
from core.schema import make_post_id
from crawler.dates import parse_count, parse_date

MAX_EXTRA_CHARS = 2000
_WS = re.compile(r"[ \t\r\f\v\u3000\xa0]+")
_NL = re.compile(r"\n\s*\n+")


def clean_text(value: str | None) -> str:
    if not value:
        return ""
    text = _WS.sub(" ", str(value))
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _NL.sub("\n", text).strip()


def _small(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_EXTRA_CHARS]
    if isinstance(value, dict):
        return {str(k)[:100]: _small(v) for k, v in list(value.items())[:30]}
    if isinstance(value, list):
        return [_small(v) for v in value[:30]]
    return value


def region_string(value: str | None) -> str | None:
    """Weibo prints "发布于 山东"; keep only the region (used for geotagging), nothing finer."""
    if not value:
        return None
    v = re.sub(r"^(发布于|来自|IP属地[:：]?)\s*", "", str(value).strip())
    return v[:100] or None


def to_record(
    item: dict[str, Any],
    *,
    salt_env: str,
    salt_file: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build a Post-shaped dict; leave invalid values in place for the inbox to reject."""
    source = item["source"]
    native = item.get("native_id")
    url = item.get("url")
    record: dict[str, Any] = {"source": source, "source_type": item["source_type"]}
    with contextlib.suppress(ValueError):  # no id → rejected by validation: "id: Field required"
        record["id"] = make_post_id(source, str(native) if native else None, url)
    if url:
        record["url"] = url
    title = clean_text(item.get("title"))
    if title:
        record["title"] = title[:1000]
    text = clean_text(item.get("text"))
    if title and text.startswith(title + "\n"):  # extractors often repeat the headline
        text = text[len(title) + 1 :].lstrip()
    record["text"] = text
    raw_date = item.get("published_at")
    published = raw_date if isinstance(raw_date, datetime) else parse_date(raw_date, now)
    if published is not None:
        record["published_at"] = published
    elif raw_date:
        record["published_at"] = str(raw_date)[:100]  # fails validation, keeps the raw form
    author_id = item.get("author_id") or item.get("author_name")
    author: dict[str, Any] = {}
    hashed = hash_author(source, author_id, env=salt_env, file=salt_file) if author_id else None
    if hashed:
        author["hash"] = hashed
    if item.get("author_name"):
        author["name"] = clean_text(item["author_name"])[:200]
    if author:
        record["author"] = author
    engagement = {
        k: parse_count(item.get(k)) for k in ("likes", "reposts", "comments", "views") if k in item
    }
    if engagement:
        record["engagement"] = engagement
    region = region_string(item.get("region"))
    if region:
        record["author_location"] = region
    parent = item.get("parent_native_id")
    if parent:
        record["parent_id"] = make_post_id(source, str(parent))
    extra = item.get("extra")
    if extra:
        record["extra"] = _small(extra)
    return record
