"""Events: incidents that group posts across sources (``GET /events``, ``GET /events/{id}``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query

from api.deps import ServicesDep, Viewer, _multi, parse_time
from store.base import Filters, SearchQuery
from store.events import EventQuery

router = APIRouter(prefix="/events", tags=["events"])


def _events_store(services):
    store = services.store
    if not callable(getattr(store, "search_events", None)):
        raise HTTPException(501, f"the {store.backend} store backend does not keep events yet")
    return store


@router.get("")
def list_events(
    services: ServicesDep,
    _: Viewer,
    since: str | None = Query(None, description="last seen at or after: ISO time or 24h/7d"),
    until: str | None = Query(None, description="first seen before"),
    window: str | None = Query(None, description="shorthand for since: 24h, 7d"),
    street: list[str] | None = Query(None),
    grid: list[str] | None = Query(None),
    category: list[str] | None = Query(None),
    risk: list[str] | None = Query(None),
    source_type: list[str] | None = Query(None),
    min_posts: int = Query(2, ge=1, description="events with at least this many posts"),
    q: str | None = Query(None, max_length=200, description="text in the event title"),
    sort: Literal["heat", "last_seen", "first_seen", "post_count"] = "heat",
    size: int = Query(20, ge=1, le=200),
    cursor: str | None = Query(None, max_length=200),
) -> dict[str, Any]:
    store = _events_store(services)
    query = EventQuery(
        since=parse_time(since, "since") or parse_time(window, "window"),
        until=parse_time(until, "until"),
        street=_multi(street),
        grid_id=_multi(grid),
        category=_multi(category),
        risk=_multi(risk),
        source_type=_multi(source_type),
        min_posts=min_posts,
        q=q,
        sort=sort,
        size=size,
        cursor=cursor,
    )
    res = store.search_events(query)
    now = datetime.now(UTC)
    return {
        "total": res.total,
        "events": [e.public(now) for e in res.events],
        "next_cursor": res.next_cursor,
    }


@router.get("/{event_id}")
def get_event(
    event_id: str,
    services: ServicesDep,
    _: Viewer,
    size: int = Query(50, ge=1, le=200, description="posts to return, newest first"),
    cursor: str | None = Query(None, max_length=500),
    interval: Literal["hour", "day"] = "hour",
) -> dict[str, Any]:
    store = _events_store(services)
    event = store.get_event(event_id)
    if event is None:
        raise HTTPException(404, f"no event with id {event_id[:200]!r}")
    filters = Filters(event_id=[event.id])
    posts = store.search(
        SearchQuery(filters=filters, sort="time", size=size, cursor=cursor, highlight=False)
    )
    timeline = store.timeline(filters, interval=interval)
    out = event.public(datetime.now(UTC))
    out["posts"] = posts.model_dump(mode="json")
    out["timeline"] = {
        "interval": interval,
        "buckets": [b.model_dump(mode="json") for b in timeline],
    }
    return out
