"""FastAPI application factory ("bigger applications" layout: routers + dependencies).

Every error leaves as JSON ``{"error": "...", "status": N}``: a bad query string is a 400 with
the reason, an unexpected failure a 500 with no traceback (the traceback goes to the log).
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.routers import posts, stats, system
from core import metrics
from core.services import Services
from store.base import QueryError, StoreError

log = logging.getLogger(__name__)

# Routers that later components contribute: "module:attribute" (imported if present).
OPTIONAL_ROUTERS: list[str] = [
    "api.routers.labels:router",
    "api.routers.dashboard:router",
    "alerts.api:router",
]
OPTIONAL_ROUTERS.append("crawler.routes:router")  # issue 6: crawl sources + import
OPTIONAL_ROUTERS.append("geo.api:router")  # issue 5: grids and geotagging
OPTIONAL_ROUTERS.append("api.routers.events:router")  # issue 4: events

DASHBOARD_DIR = Path(__file__).resolve().parent / "static"


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="yuqing 舆情监测预警 API",
        version="1",
        description="Search, statistics, alerts and grids for grid-based public-opinion monitoring.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.services = services

    for module in (posts, stats, system):
        app.include_router(module.router, prefix="/api/v1")
    for spec in OPTIONAL_ROUTERS:
        mod_name, attr = spec.split(":")
        app.include_router(getattr(importlib.import_module(mod_name), attr), prefix="/api/v1")

    # Prometheus scrapes /metrics by convention; same handler and auth as /api/v1/metrics.
    app.add_api_route(
        "/metrics", system.prometheus_metrics, methods=["GET"], include_in_schema=False
    )

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        response.headers["X-Response-Time-ms"] = f"{(time.perf_counter() - start) * 1000:.1f}"
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body"))
            parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
        return _error(400, "; ".join(parts)[:2000])

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError):
        return _error(400, str(exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError):
        log.error("store error on %s: %s", request.url.path, exc)
        return _error(503, "the store is unavailable; try again shortly")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal error; it has been logged")

    if DASHBOARD_DIR.is_dir() and (DASHBOARD_DIR / "index.html").exists():
        app.mount("/ui", StaticFiles(directory=DASHBOARD_DIR, html=True), name="ui")

        @app.get("/", include_in_schema=False)
        def root():
            return RedirectResponse("/ui/")
    else:

        @app.get("/", include_in_schema=False)
        def root_json():
            return {"service": "yuqing", "api": "/api/v1", "docs": "/docs"}

    return app
