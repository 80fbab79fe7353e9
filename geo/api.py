"""API: the grid map (GeoJSON with counts), one grid, the street → community hierarchy, layers.

Counts come from the store (``breakdown(filters, "grid_id")``), so every dashboard filter and time
window applies. Open alerts per grid come from the alert engine when one registered a provider
in ``services.extras["alerts.open_by_grid"]`` — a callable ``(filters) -> {grid_id: n}``; without
one every grid shows 0.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Literal

import shapely
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from shapely.geometry import mapping

from api.deps import Analyst, FiltersDep, ServicesDep, Viewer
from core.services import Services
from geo.layer import Grid
from geo.service import GeoService, get_geo
from store.base import Filters

log = logging.getLogger(__name__)
router = APIRouter(tags=["grids"])

OPEN_ALERTS_KEY = "alerts.open_by_grid"
MAX_SPECIAL_COUNTS = 300
_M_PER_DEG = 111_320.0
_geom_cache: OrderedDict[tuple[int | None, str, float], dict] = OrderedDict()
_cache_lock = threading.Lock()


def _geo(services: Services) -> GeoService:
    return get_geo(services.settings, services.extras)


def open_alerts_by_grid(services: Services, filters: Filters) -> dict[str, int]:
    """Open alerts per grid id from the alert engine's provider, or {} when there is none."""
    provider = services.extras.get(OPEN_ALERTS_KEY)
    if not callable(provider):
        return {}
    try:
        result = provider(filters)
        return {str(k): int(v) for k, v in (result or {}).items()}
    except Exception:  # the map must still render when the alert engine misbehaves
        log.exception("open-alerts provider failed; showing 0 open alerts")
        return {}


def _geometry(version: int | None, grid: Grid, simplify_m: float) -> dict:
    key = (version, grid.id, simplify_m)
    with _cache_lock:
        hit = _geom_cache.get(key)
        if hit is not None:
            _geom_cache.move_to_end(key)
            return hit
    geom = grid.geometry
    if simplify_m > 0:
        geom = shapely.simplify(geom, simplify_m / _M_PER_DEG, preserve_topology=True)
    geom = shapely.set_precision(geom, 1e-6)
    out = mapping(geom)
    with _cache_lock:
        _geom_cache[key] = out
        while len(_geom_cache) > 20_000:
            _geom_cache.popitem(last=False)
    return out


def _props(grid: Grid) -> dict[str, Any]:
    p = {
        "id": grid.id,
        "name": grid.name,
        "kind": grid.kind,
        "community": grid.community,
        "street": grid.street,
        "district": grid.district,
    }
    if grid.props.get("special_type"):
        p["special_type"] = grid.props["special_type"]
    return p


def _counts(
    services: Services, filters: Filters, specials: list[Grid]
) -> dict[str, tuple[int, int]]:
    counts = {
        b.key: (b.count, b.negative)
        for b in services.store.breakdown(filters, "grid_id", size=5000)
    }
    for g in specials[:MAX_SPECIAL_COUNTS]:
        f = filters.model_copy(update={"grid_id": [g.id]})
        n = services.store.count(f)
        neg = services.store.count(f.model_copy(update={"sentiment": ["negative"]})) if n else 0
        counts[g.id] = (n, neg)
    return counts


def _grid_filter(grids: list[Grid], filters: Filters, kind: str) -> list[Grid]:
    out = grids
    if kind != "all":
        out = [g for g in out if g.kind == kind]
    if filters.street:
        out = [g for g in out if g.street in filters.street]
    if filters.community:
        out = [g for g in out if g.community in filters.community]
    if filters.grid_id:
        out = [g for g in out if g.id in filters.grid_id]
    return out


@router.get("/grids")
def grids_map(
    services: ServicesDep,
    _: Viewer,
    filters: FiltersDep,
    kind: Literal["all", "basic", "special"] = "all",
    simplify: float = Query(
        0.0, ge=0, le=1000, description="simplify tolerance in metres (0: none)"
    ),
    geometry: bool = Query(True, description="false: properties only"),
) -> dict[str, Any]:
    geo = _geo(services)
    tagger = geo.tagger()
    selected = _grid_filter(geo.grids(), filters, kind)
    counts = _counts(services, filters, [g for g in selected if g.kind == "special"])
    alerts = open_alerts_by_grid(services, filters)
    features = []
    total = negative = 0
    for g in selected:
        n, neg = counts.get(g.id, (0, 0))
        if g.kind == "basic":
            total += n
            negative += neg
        features.append(
            {
                "type": "Feature",
                "id": g.id,
                "properties": {
                    **_props(g),
                    "count": n,
                    "negative": neg,
                    "open_alerts": alerts.get(g.id, 0),
                },
                "geometry": _geometry(tagger.layer_version, g, simplify) if geometry else None,
            }
        )
    return {
        "type": "FeatureCollection",
        "layer_version": tagger.layer_version,
        "grids": len(features),
        "count": total,
        "negative": negative,
        "bbox": list(tagger.index.bounds) if tagger.index and tagger.index.bounds else None,
        "features": features,
    }


@router.get("/grids/{grid_id}")
def grid_detail(
    grid_id: str,
    services: ServicesDep,
    _: Viewer,
    filters: FiltersDep,
    simplify: float = Query(0.0, ge=0, le=1000),
) -> dict[str, Any]:
    geo = _geo(services)
    tagger = geo.tagger()
    grid = tagger.index.by_id.get(grid_id) if tagger.index else None
    if grid is None:
        raise HTTPException(404, f"no grid {grid_id[:100]!r} in the active layer")
    f = filters.model_copy(update={"grid_id": [grid.id]})
    buckets = services.store.breakdown(f, "sentiment", size=10)
    categories = services.store.breakdown(f, "category", size=20)
    n = services.store.count(f)
    return {
        "type": "Feature",
        "id": grid.id,
        "properties": {
            **_props(grid),
            "count": n,
            "negative": sum(b.count for b in buckets if b.key == "negative"),
            "sentiment": {b.key: b.count for b in buckets},
            "categories": {b.key: b.count for b in categories},
            "open_alerts": open_alerts_by_grid(services, f).get(grid.id, 0),
            "area_km2": round(_area_km2(grid), 4),
            "layer_version": tagger.layer_version,
            **({"attributes": grid.props} if grid.props else {}),
        },
        "geometry": _geometry(tagger.layer_version, grid, simplify),
    }


def _area_km2(grid: Grid) -> float:
    from geo.layer import area_m2

    return area_m2(grid.geometry) / 1e6


@router.get("/geo/hierarchy")
def hierarchy(services: ServicesDep, _: Viewer) -> dict[str, Any]:
    geo = _geo(services)
    geo.tagger()
    grids_per: dict[tuple[str | None, str | None], int] = {}
    for g in geo.grids():
        if g.kind == "basic":
            grids_per[(g.street, g.community)] = grids_per.get((g.street, g.community), 0) + 1
    h = geo.hierarchy.as_dict()
    for s in h["streets"]:
        for c in s["communities"]:
            c["grids"] = grids_per.get((s["name"], c["name"]), 0)
        s["grids"] = sum(c["grids"] for c in s["communities"])
    return h


@router.get("/geo/layers")
def layers(services: ServicesDep, _: Viewer) -> dict[str, Any]:
    geo = _geo(services)
    return {
        "layers": [
            {
                "version": x.version,
                "name": x.name,
                "source": x.source,
                "imported_at": x.imported_at,
                "grids": x.grids,
                "active": x.active,
                "report": x.report,
            }
            for x in geo.registry.layers()
        ]
    }


class TagRequest(BaseModel):
    text: str = Field("", max_length=20_000)
    address: str | None = Field(None, max_length=500)
    author_location: str | None = Field(None, max_length=100)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"


@router.post("/geo/tag")
def tag(req: TagRequest, services: ServicesDep, _: Analyst) -> dict[str, Any]:
    """Geotag a text / address / point without storing anything (for checking the gazetteer)."""
    if (req.lon is None) != (req.lat is None):
        raise HTTPException(400, "give both lon and lat, or neither")
    tagger = _geo(services).tagger()
    point = tagger.locate_points([req.lon], [req.lat], req.crs)[0] if req.lon is not None else None
    geo = tagger.tag_fields(
        req.text, req.address, req.author_location, point, has_point=point is not None
    )
    return geo.model_dump()
