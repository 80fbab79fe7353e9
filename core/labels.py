"""Analyst label corrections: an append-only ``labels`` table in the app database.

Every correction keeps who made it, when, the value it replaced (and the model version that had
produced that value) and an optional note; the stored post is patched so searches, statistics
and alerts see the corrected value at once.  ``export`` turns the latest correction per post
into training JSONL for ``yuqing train --include-labels``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from core.db import Tx
from core.schema import RISK_LEVELS, SENTIMENT_LABELS, Category, Post, Risk, Sentiment
from store.base import Store

FIELDS = ("sentiment", "category", "risk")
ANALYST_VERSION = "analyst"

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    previous TEXT,
    previous_version TEXT,
    note TEXT,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_post ON labels(post_id, field, id);
"""


class LabelError(ValueError):
    """Invalid correction (HTTP 400 / CLI error)."""


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


# the category codes of data/labelled/GUIDELINES.md (the category model's label set)
CATEGORY_CODES = (
    "property", "demolition", "environment", "noise", "traffic", "wages", "education", "health",
    "food_safety", "public_security", "safety", "housing", "utilities", "urban_management",
    "consumer", "social_welfare", "government_service", "other",
)  # fmt: skip


def validate(changes: dict[str, str | None]) -> dict[str, str]:
    out = {k: v for k, v in changes.items() if k in FIELDS and v is not None}
    if not out:
        raise LabelError("give at least one of sentiment, category, risk")
    if "sentiment" in out and out["sentiment"] not in SENTIMENT_LABELS:
        raise LabelError(f"sentiment must be one of {', '.join(SENTIMENT_LABELS)}")
    if "risk" in out and out["risk"] not in RISK_LEVELS:
        raise LabelError(f"risk must be one of {', '.join(RISK_LEVELS)}")
    if "category" in out and out["category"] not in CATEGORY_CODES:
        raise LabelError(f"category must be one of {', '.join(CATEGORY_CODES)}")
    return out


def _current(post: Post, field: str) -> tuple[str | None, str | None]:
    value = getattr(post, field)
    if value is None:
        return None, None
    label = value.level if field == "risk" else value.label
    return label, value.model_version


def _corrected(post: Post, field: str, value: str, actor: str) -> Any:
    version = f"{ANALYST_VERSION}:{actor}"
    if field == "sentiment":
        return Sentiment(label=value, score=1.0, probs={value: 1.0}, model_version=version)
    if field == "category":
        name = post.category.name if post.category and post.category.label == value else None
        return Category(label=value, name=name, score=1.0, model_version=version)
    old = post.risk or Risk()
    return Risk(level=value, signals=old.signals, score=1.0, model_version=version)


def record(
    conn: sqlite3.Connection,
    store: Store,
    post_id: str,
    changes: dict[str, str | None],
    actor: str,
    note: str | None = None,
) -> tuple[Post, list[dict[str, Any]]] | None:
    """Validate, append one row per changed field, patch the stored post. None: no such post."""
    wanted = validate(changes)
    if note is not None and len(note) > 2000:
        raise LabelError("note is longer than 2000 characters")
    post = store.get(post_id)
    if post is None:
        return None
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows, patch = [], {}
    for field, value in wanted.items():
        prev, prev_version = _current(post, field)
        rows.append(
            {
                "post_id": post_id,
                "field": field,
                "value": value,
                "previous": prev,
                "previous_version": prev_version,
                "note": note,
                "actor": actor,
                "created_at": now,
            }
        )
        patch[field] = _corrected(post, field, value, actor)
    with Tx(conn):
        conn.executemany(
            """INSERT INTO labels (post_id, field, value, previous, previous_version, note, actor,
                                   created_at)
               VALUES (:post_id, :field, :value, :previous, :previous_version, :note, :actor,
                       :created_at)""",
            rows,
        )
    # only Store.upsert is needed (every backend has it): patch a copy and write it back whole
    updated = Post.model_validate(post.model_copy(update=patch).model_dump())
    store.upsert([updated])
    return updated, rows


def history(
    conn: sqlite3.Connection, post_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM labels"
    args: list[Any] = []
    if post_id is not None:
        sql += " WHERE post_id=?"
        args.append(post_id)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [dict(r) for r in conn.execute(sql, args)]


def latest(conn: sqlite3.Connection) -> dict[str, dict[str, dict[str, Any]]]:
    """post id → field → the newest correction row."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in conn.execute("SELECT * FROM labels ORDER BY id"):
        out.setdefault(r["post_id"], {})[r["field"]] = dict(r)
    return out


def export(conn: sqlite3.Connection, store: Store, field: str | None = None) -> Iterator[dict]:
    """Training records (``id``, ``text``, ``title``, ``channel`` and the corrected fields).

    With ``field`` only posts corrected on that field are exported. Posts deleted from the store
    since they were labelled cannot be exported (their text is gone) and are skipped.
    """
    by_post = latest(conn)
    ids = [pid for pid, fields in by_post.items() if field is None or field in fields]
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        posts = {p.id: p for p in store.get_many(chunk)}
        for pid in chunk:
            post = posts.get(pid)
            if post is None:
                continue
            rec: dict[str, Any] = {"id": pid, "text": post.text}
            if post.title:
                rec["title"] = post.title
            rec["channel"] = post.source_type.value
            for f, row in sorted(by_post[pid].items()):
                rec[f] = row["value"]
            rec["labelled_by"] = sorted({row["actor"] for row in by_post[pid].values()})
            rec["labelled_at"] = max(row["created_at"] for row in by_post[pid].values())
            yield rec


def dumps(rec: dict[str, Any]) -> str:
    return json.dumps(rec, ensure_ascii=False)
