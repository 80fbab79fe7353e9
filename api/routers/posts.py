"""Search, fetch and submit posts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query

from api.deps import Analyst, FiltersDep, ServicesDep, Viewer
from core import metrics
from store.base import SearchQuery

router = APIRouter(prefix="/posts", tags=["posts"])


@router.get("")
def search_posts(
    services: ServicesDep,
    _: Viewer,
    filters: FiltersDep,
    q: str | None = Query(None, description='words (AND), A OR B, -exclude, "phrase"'),
    sort: Literal["time", "relevance", "engagement"] = "time",
    size: int = Query(20, ge=1, le=200),
    cursor: str | None = Query(None, max_length=500),
) -> dict[str, Any]:
    result = services.store.search(
        SearchQuery(q=q, filters=filters, sort=sort, size=size, cursor=cursor)
    )
    return result.model_dump(mode="json")


@router.get("/{post_id:path}")
def get_post(post_id: str, services: ServicesDep, _: Viewer) -> dict[str, Any]:
    post = services.store.get(post_id)
    if post is None:
        raise HTTPException(404, f"no post with id {post_id[:200]!r}")
    out = post.model_dump(mode="json")
    dup = getattr(services.store, "duplicate_counts", None)
    if callable(dup):
        out["duplicate_count"] = dup([post.id]).get(post.id, 0)
    return out


@router.post("", status_code=202)
def submit_posts(
    services: ServicesDep, principal: Analyst, body: Any = Body(...)
) -> dict[str, Any]:
    """Accept a batch (a JSON list, or ``{"posts": [...]}``) into the durable inbox."""
    records = body.get("posts") if isinstance(body, dict) else body
    if not isinstance(records, list):
        raise HTTPException(400, 'body must be a JSON list of posts or {"posts": [...]}')
    limit = services.settings.server.max_batch
    if len(records) > limit:
        raise HTTPException(413, f"batch of {len(records)} posts is over the limit of {limit}")
    result = services.inbox.put(records, origin=f"api:{principal.name}")
    metrics.INGESTED.labels("api").inc(result.accepted)
    if result.rejected:
        metrics.REJECTED.labels("validation").inc(len(result.rejected))
    return result.as_dict()
