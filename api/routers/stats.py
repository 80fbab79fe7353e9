"""Aggregations for the dashboard and analysts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from api.deps import FiltersDep, ServicesDep, Viewer
from store.base import KEYWORD_FIELDS

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("/timeline")
def timeline(
    services: ServicesDep,
    _: Viewer,
    filters: FiltersDep,
    q: str | None = None,
    interval: Literal["hour", "day"] = "hour",
    split: str | None = Query(None, description=f"one of {', '.join(KEYWORD_FIELDS)}"),
) -> dict[str, Any]:
    buckets = services.store.timeline(filters, interval=interval, split=split, q=q)
    return {
        "interval": interval,
        "split": split,
        "buckets": [b.model_dump(mode="json") for b in buckets],
    }


@router.get("/breakdown")
def breakdown(
    services: ServicesDep,
    _: Viewer,
    filters: FiltersDep,
    field: str = Query(..., description=f"one of {', '.join(KEYWORD_FIELDS)}"),
    q: str | None = None,
    size: int = Query(50, ge=1, le=5000),
) -> dict[str, Any]:
    buckets = services.store.breakdown(filters, field=field, size=size, q=q)
    return {"field": field, "buckets": [b.model_dump() for b in buckets]}


@router.get("/keywords")
def keywords(
    services: ServicesDep,
    _: Viewer,
    filters: FiltersDep,
    q: str | None = None,
    size: int = Query(30, ge=1, le=500),
) -> dict[str, Any]:
    return {"keywords": [k.model_dump() for k in services.store.keywords(filters, size=size, q=q)]}
