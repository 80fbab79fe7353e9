"""API: ``GET /api/v1/sources`` (crawl health) and ``POST /api/v1/import/{line}`` (push records)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from api.deps import Analyst, ServicesDep, Viewer
from core import metrics
from crawler.config import SourcesError
from crawler.health import source_health
from crawler.imports import import_rows

router = APIRouter(tags=["crawler"])


@router.get("/sources")
def list_sources(services: ServicesDep, _: Viewer) -> dict[str, Any]:
    """Configured sources with their crawl health (last success/error, items per run and day)."""
    from crawler.runtime import sources_for

    try:
        sources = sources_for(services.settings)
        config_error = None
    except SourcesError as exc:
        sources, config_error = {}, str(exc)
    health = {h["source"]: h for h in source_health(services.app_db, list(sources))}
    items = []
    for name, s in sources.items():
        items.append(
            {
                "name": name,
                "spider": s.spider,
                "source_type": s.source_type,
                "enabled": s.enabled,
                "demo": s.demo,
                "interval_minutes": s.interval_minutes,
                "description": s.description,
                "health": health.pop(name, None),
            }
        )
    # sources that ran but are no longer configured keep their history visible
    for name, h in health.items():
        items.append(
            {"name": name, "spider": h["spider"], "enabled": False, "removed": True, "health": h}
        )
    return {"sources": items, "config_error": config_error}


@router.post("/import/{line}")
def import_records(
    line: str,
    services: ServicesDep,
    _: Analyst,
    payload: Any = Body(..., description='a JSON array of records, or {"records": [...]}'),
) -> dict[str, Any]:
    """Push hotline/petition records (keys: the mapped column names or the field names)."""
    mapping = services.settings.crawler.imports.get(line)
    if mapping is None:
        known = ", ".join(sorted(services.settings.crawler.imports))
        raise HTTPException(404, f"no import line {line!r} (configured: {known})")
    records = payload.get("records") if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise HTTPException(400, 'body must be a JSON array of records or {"records": [...]}')
    limit = services.settings.server.max_batch
    if len(records) > limit:
        raise HTTPException(413, f"at most {limit} records per request (got {len(records)})")
    rows: list[tuple[int, dict[str, Any]]] = []
    bad: list[tuple[int, str]] = []
    for i, r in enumerate(records, 1):
        if isinstance(r, dict):
            rows.append((i, {str(k): v for k, v in r.items()}))
        else:
            bad.append((i, f"a record must be a JSON object, got {type(r).__name__}"))
            services.inbox.reject(
                repr(r)[:2000], f"record {i}: not a JSON object", f"import:{line}"
            )
    report = import_rows(services.inbox, line, mapping, rows)
    metrics.INGESTED.labels(f"import:{line}").inc(report.accepted)
    report.errors = sorted(bad + report.errors)
    out = report.as_dict()
    for r in out["rejected"]:
        r["record"] = r.pop("row")  # 1-based position in the request body
    return out
