"""Health, metrics and operator views of the queue."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Admin, ServicesDep, Viewer
from core import metrics

router = APIRouter(tags=["system"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    services = request.app.state.services
    status, checks = "ok", {}
    try:
        checks["store"] = {
            "backend": services.store.backend,
            "posts": services.store.info().get("posts"),
        }
    except Exception as exc:  # report, never raise: this is what load balancers poll
        status, checks["store"] = "degraded", {"error": type(exc).__name__}
    checks["inbox_pending"] = services.inbox.pending()
    proc = services.processor
    checks["processor"] = (
        {"running": True, "last_batch_at": proc.last_batch_at}
        if proc is not None
        else {"running": False}
    )
    return {"status": status, "time": time.time(), "checks": checks}


def _metrics_response(services) -> Response:
    metrics.INBOX_PENDING.set(services.inbox.pending())
    metrics.DEADLETTERS.set(services.inbox.deadletter_count())
    with contextlib.suppress(Exception):
        metrics.STORED_POSTS.set(services.store.info().get("posts") or 0)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/metrics")
def prometheus_metrics(services: ServicesDep, _: Viewer) -> Response:
    return _metrics_response(services)


@router.get("/deadletters")
def deadletters(
    services: ServicesDep,
    _: Admin,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    return {
        "total": services.inbox.deadletter_count(),
        "items": services.inbox.deadletters(limit, offset),
    }
