"""Small endpoints the one-screen dashboard needs: who the key is, and the street base map.

``/whoami`` lets the page show role-aware controls without guessing from 403s. ``/dashboard/streets``
dissolves the active grid layer into street outlines (shapely, cached per layer version) so the
map has a light street base without a tile server or a second boundary file to keep in sync.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import ServicesDep, Viewer
from core.keys import ROLE_RANK

log = logging.getLogger(__name__)
router = APIRouter(tags=["dashboard"])

_cache: dict[tuple[int, int | None, float], dict[str, Any]] = {}
_cache_lock = threading.Lock()


@router.get("/whoami")
def whoami(principal: Viewer) -> dict[str, Any]:
    """The key's name and role, and what that role may do on the dashboard."""
    rank = ROLE_RANK[principal.role]
    return {
        "name": principal.name,
        "role": principal.role,
        "can": {
            "label": rank >= ROLE_RANK["analyst"],
            "act_on_alerts": rank >= ROLE_RANK["officer"],
            "admin": rank >= ROLE_RANK["admin"],
        },
    }


def _street_outlines(grids: list[Any], tolerance: float) -> list[dict[str, Any]]:
    import shapely
    from shapely.geometry import mapping

    by_street: dict[str, list[Any]] = {}
    for g in grids:
        if g.kind != "basic" or not g.street:
            continue
        by_street.setdefault(g.street, []).append(g.geometry)
    features = []
    for street, geoms in sorted(by_street.items()):
        # a tiny buffer closes the slivers between neighbouring grids before dissolving
        merged = shapely.union_all([shapely.buffer(g, 1e-5) for g in geoms])
        if tolerance > 0:
            merged = shapely.simplify(merged, tolerance, preserve_topology=True)
        label = merged.representative_point()
        features.append(
            {
                "type": "Feature",
                "id": street,
                "properties": {
                    "street": street,
                    "grids": len(geoms),
                    "label": [round(label.x, 6), round(label.y, 6)],
                },
                "geometry": mapping(merged),
            }
        )
    return features


def street_collection(services: Any, tolerance: float = 0.0005) -> dict[str, Any]:
    """Street outlines of the active layer, computed once per layer version and tolerance."""
    try:
        from geo.service import get_geo
    except ImportError:
        raise HTTPException(503, "网格服务未启用（geo 模块不可用）") from None
    geo = get_geo(services.settings, services.extras)
    grids = geo.grids()
    if not grids:
        raise HTTPException(503, "尚未导入网格图层")
    version = geo.registry.active_version()
    key = (id(geo), version, tolerance)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        cached = {
            "type": "FeatureCollection",
            "layer_version": version,
            "features": _street_outlines(grids, tolerance),
        }
        with _cache_lock:
            if len(_cache) > 16:
                _cache.clear()
            _cache[key] = cached
    return cached


@router.get("/dashboard/streets")
def street_outlines(
    services: ServicesDep,
    _: Viewer,
    tolerance: float = Query(
        0.0005, ge=0, le=0.05, description="simplification tolerance in degrees"
    ),
) -> dict[str, Any]:
    """Street outlines dissolved from the active grid layer (GeoJSON, WGS-84)."""
    return street_collection(services, tolerance)
