"""Small synthetic grid layers for the geo tests (lon/lat squares near 历城)."""

from __future__ import annotations

import json
from pathlib import Path

LON0, LAT0, STEP = 117.10, 36.70, 0.01


def square(i: int, j: int, step: float = STEP) -> list[list[list[float]]]:
    x, y = LON0 + i * step, LAT0 + j * step
    return [[[x, y], [x + step, y], [x + step, y + step], [x, y + step], [x, y]]]


def feature(gid: str, coords, kind="basic", street="王舍人街道", community="祥泰城社区", **extra):
    return {
        "type": "Feature",
        "properties": {
            "id": gid,
            "name": f"{gid}号网格",
            "kind": kind,
            "street": street,
            "community": community,
            **extra,
        },
        "geometry": {"type": "Polygon", "coordinates": coords},
    }


def grid_2x2(prefix: str = "G") -> list[dict]:
    """Four basic grids in two streets: columns 0 (王舍人/祥泰城社区) and 1 (鲍山/叔牙社区)."""
    return [
        feature(f"{prefix}00", square(0, 0)),
        feature(f"{prefix}01", square(0, 1)),
        feature(f"{prefix}10", square(1, 0), street="鲍山街道", community="叔牙社区"),
        feature(f"{prefix}11", square(1, 1), street="鲍山街道", community="叔牙社区"),
    ]


def write_layer(path: Path, features: list[dict], crs: str | None = None) -> Path:
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path
