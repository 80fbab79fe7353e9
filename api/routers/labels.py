"""Analyst feedback: ``POST /posts/{id}/labels`` corrects sentiment/category/risk of a post.

The posts router serves ``GET /posts/{post_id:path}``; this route is POST-only and ends in
``/labels``, so ids containing ``:`` or ``/`` (``weibo:123``) reach it unambiguously.  The label
history is ``GET /labels?post_id=…`` (a GET under ``/posts/…`` would be taken by the post lookup).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Analyst, ServicesDep
from core import labels as label_db

router = APIRouter(tags=["labels"])


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sentiment: str | None = Field(None, description="negative | neutral | positive")
    category: str | None = Field(None, description="category code, e.g. property")
    risk: str | None = Field(None, description="none | elevated | critical")
    note: str | None = Field(None, max_length=2000)


def _conn(services):
    return services.app_db  # the labels table is created by Services.open


@router.post("/posts/{post_id:path}/labels", status_code=201)
def add_label(post_id: str, body: LabelIn, services: ServicesDep, who: Analyst) -> dict[str, Any]:
    try:
        result = label_db.record(
            _conn(services),
            services.store,
            post_id,
            {"sentiment": body.sentiment, "category": body.category, "risk": body.risk},
            actor=who.name,
            note=body.note,
        )
    except label_db.LabelError as exc:
        raise HTTPException(400, str(exc)) from None
    if result is None:
        raise HTTPException(404, f"no post with id {post_id[:200]!r}")
    post, rows = result
    return {"post": post.model_dump(mode="json"), "labels": rows}


@router.get("/labels")
def list_labels(
    services: ServicesDep,
    _: Analyst,
    post_id: str | None = Query(None, max_length=300),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    return {"labels": label_db.history(_conn(services), post_id, limit)}
