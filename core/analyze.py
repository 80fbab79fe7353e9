"""``yuqing analyze``: enrich JSONL posts with the configured pipeline, without storing them.

Input: one JSON object per line with at least ``text`` (optional ``id``, ``title``,
``source_type``, ``source``, ``published_at``, ``url``, ``address``…; enrichment fields in the
input are ignored and recomputed).  Output: one line per non-empty input line, in input order,
with ``id`` and every enrichment the pipeline produced (``sentiment``, ``category``, ``risk``,
``geo``, ``keywords``, ``event_id``, ``duplicate_of``).  A line that cannot be read or turned into
a post, or that a component fails on, is answered with ``{"line": N, "error": "…"}`` instead,
and the rest continue.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import ValidationError

from core.cli import CliError
from core.commands.data import iter_jsonl
from core.config import Settings
from core.pipeline import Context, Pipeline, PipelineError, build_pipeline
from core.schema import Post, validation_message

log = logging.getLogger(__name__)

INPUT_FIELDS = (
    "id",
    "source",
    "source_type",
    "url",
    "title",
    "text",
    "author",
    "published_at",
    "engagement",
    "coordinates",
    "author_location",
    "address",
    "parent_id",
)
ENRICHMENTS = ("sentiment", "category", "risk", "geo", "keywords", "event_id", "duplicate_of")


def to_post(rec: Any, lineno: int) -> Post:
    if not isinstance(rec, dict):
        raise ValueError(f"line {lineno}: expected a JSON object")
    data = {k: rec[k] for k in INPUT_FIELDS if rec.get(k) is not None}
    data.setdefault("id", f"analyze:{lineno}")
    data["id"] = str(data["id"])
    data.setdefault("source", "analyze")
    data.setdefault("source_type", "news")
    data.setdefault("published_at", datetime.now(UTC))
    try:
        return Post.model_validate(data)
    except ValidationError as exc:
        raise ValueError(validation_message(exc, f"on line {lineno}")) from None


def result(post: Post) -> dict[str, Any]:
    dumped = post.model_dump(mode="json", include=set(ENRICHMENTS))
    out: dict[str, Any] = {"id": post.id}
    for key in ENRICHMENTS:
        value = dumped.get(key)
        if value not in (None, [], {}):
            out[key] = value
    return out


def _run(pipeline: Pipeline, items: list[tuple[int, Post]]) -> dict[int, dict[str, Any]]:
    """Enrich a batch; if the batch fails, retry post by post so one bad post costs one line."""
    try:
        posts = pipeline([p for _, p in items])
        return {n: result(p) for (n, _), p in zip(items, posts, strict=True)}
    except Exception as exc:
        log.warning("batch of %d failed (%s); retrying one by one", len(items), exc)
    out = {}
    for n, p in items:
        try:
            out[n] = result(pipeline([p])[0])
        except Exception as exc:
            out[n] = {
                "line": n,
                "id": p.id,
                "error": f"processing failed: {type(exc).__name__}: {exc}",
            }
    return out


def analyze_stream(
    inp: IO[bytes],
    out: IO[str],
    settings: Settings,
    batch_size: int = 256,
    pipeline: Pipeline | None = None,
) -> dict[str, int]:
    if pipeline is None:
        try:
            pipeline = build_pipeline(Context(settings, None, {}))
        except PipelineError as exc:
            raise CliError(str(exc)) from None
    stats = {"ok": 0, "errors": 0}
    pending: list[tuple[int, dict[str, Any] | Post]] = []  # input order: ready answers and posts

    def flush() -> None:
        todo = [(n, p) for n, p in pending if isinstance(p, Post)]
        done = _run(pipeline, todo) if todo else {}
        for n, item in pending:
            answer = done[n] if isinstance(item, Post) else item
            stats["errors" if "error" in answer else "ok"] += 1
            out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()
        pending.clear()

    n_posts = 0
    for lineno, rec, err, _raw in iter_jsonl(inp):
        if err is not None:
            pending.append((lineno, {"line": lineno, "error": err}))
        else:
            try:
                pending.append((lineno, to_post(rec, lineno)))
                n_posts += 1
            except ValueError as exc:
                answer: dict[str, Any] = {"line": lineno, "error": str(exc)}
                if isinstance(rec, dict) and rec.get("id") is not None:
                    answer["id"] = str(rec["id"])
                pending.append((lineno, answer))
        if n_posts >= batch_size or len(pending) >= 4 * batch_size:
            flush()
            n_posts = 0
    if pending:
        flush()
    return stats
