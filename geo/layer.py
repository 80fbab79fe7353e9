"""Reading and checking a grid layer export (GeoJSON or Shapefile) before it replaces the active one.

District grid GIS exports differ in field names (id/WGBM, name/WGMC, street/JDMC…) and often use
a projected CRS (CGCS2000 / 3-degree Gauss-Kruger CM 117E = EPSG:4548) or a Chinese map datum
(GCJ-02, BD-09). Everything is converted to WGS-84 lon/lat. Each grid is accepted, repaired
(``make_valid``; the reason is reported) or rejected with its id and reason; overlaps between
basic grids and gaps inside their union are reported, never silently fixed. Special grids
(schools, markets, enterprises) may overlap basic grids by design.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from geo import crs as ccrs
from geo.names import normalise_admin_name

KINDS = ("basic", "special")
_KIND_WORDS = {
    "basic": "basic",
    "基础": "basic",
    "基础网格": "basic",
    "综合网格": "basic",
    "普通网格": "basic",
    "special": "special",
    "专属": "special",
    "专属网格": "special",
    "专业网格": "special",
    "专属网格(学校)": "special",
}
# property names seen in exports, per field (matched case-insensitively)
FIELD_CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "grid_id", "gridid", "grid_code", "code", "wgbm", "网格编码", "网格编号"),
    "name": ("name", "grid_name", "gridname", "wgmc", "网格名称"),
    "kind": ("kind", "type", "grid_type", "wglx", "网格类型"),
    "community": ("community", "sqmc", "社区", "社区名称", "village", "cun"),
    "street": ("street", "jdmc", "街道", "街道名称", "town", "xzjd"),
    "district": ("district", "qxmc", "区县", "county"),
}
MAX_REPORT_ITEMS = 50
# Overlaps below both thresholds are precision slivers along shared edges (counted, not listed).
OVERLAP_MIN_M2 = 100.0
OVERLAP_MIN_SHARE = 0.01  # of the smaller grid
GAP_MIN_M2 = 100.0


class LayerError(ValueError):
    """The file cannot be imported at all (format, CRS); per-grid problems go in the report."""


@dataclass
class Grid:
    id: str
    name: str
    kind: str
    community: str | None
    street: str | None
    district: str | None
    geometry: Any  # shapely Polygon / MultiPolygon in WGS-84
    props: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    features: int = 0
    accepted: int = 0
    repaired: list[dict[str, str]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    overlap_count: int = 0
    sliver_count: int = 0
    gaps: list[dict[str, Any]] = field(default_factory=list)
    gap_count: int = 0
    warnings: list[str] = field(default_factory=list)
    crs: str = "EPSG:4326"

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "accepted": self.accepted,
            "repaired": self.repaired[:MAX_REPORT_ITEMS],
            "repaired_count": len(self.repaired),
            "rejected": self.rejected[:MAX_REPORT_ITEMS],
            "rejected_count": len(self.rejected),
            "overlaps": self.overlaps[:MAX_REPORT_ITEMS],
            "overlap_count": self.overlap_count,
            "sliver_count": self.sliver_count,
            "gaps": self.gaps[:MAX_REPORT_ITEMS],
            "gap_count": self.gap_count,
            "warnings": self.warnings[:MAX_REPORT_ITEMS],
            "crs": self.crs,
        }


# ---- reading -------------------------------------------------------------------------------


def read_features(
    path: str | Path, layer: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """(GeoJSON-like features, CRS declared by the file or None)."""
    p = Path(path)
    if not p.exists():
        raise LayerError(f"file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".shp", ".zip"):
        return _read_shapefile(p, layer)
    if suffix not in (".geojson", ".json"):
        raise LayerError(f"{p.name}: expected .geojson/.json or .shp/.zip (Shapefile)")
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerError(f"{p.name}: not valid GeoJSON ({exc})") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        feats = [data]
    else:
        raise LayerError(f"{p.name}: expected a GeoJSON FeatureCollection")
    if not isinstance(feats, list):
        raise LayerError(f"{p.name}: 'features' must be a list")
    if layer:
        feats = [f for f in feats if _prop(f, "layer") == layer]
        if not feats:
            raise LayerError(f"{p.name}: no features with layer={layer!r}")
    declared = None
    crs_member = data.get("crs") if isinstance(data, dict) else None
    if isinstance(crs_member, dict):
        declared = (crs_member.get("properties") or {}).get("name")
    return feats, declared


def _prop(feature: Any, key: str) -> Any:
    return ((feature or {}).get("properties") or {}).get(key) if isinstance(feature, dict) else None


def _read_shapefile(p: Path, layer: str | None) -> tuple[list[dict[str, Any]], str | None]:
    import shapefile  # pyshp

    try:
        if p.suffix.lower() == ".zip":
            with zipfile.ZipFile(p) as zf:
                shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
                if layer:
                    shps = [n for n in shps if Path(n).stem == layer]
                if len(shps) != 1:
                    names = ", ".join(Path(n).stem for n in shps) or "none"
                    raise LayerError(
                        f"{p.name}: need exactly one .shp (found: {names}); use --layer"
                    )
                base = shps[0][:-4]

                def part(ext: str):
                    for n in zf.namelist():
                        if n.lower() == (base + ext).lower():
                            return zf.open(n)
                    return None

                prj = part(".prj")
                declared = prj.read().decode("utf-8", "replace") if prj else None
                reader = shapefile.Reader(
                    shp=part(".shp"), dbf=part(".dbf"), shx=part(".shx"), encoding=_encoding(part)
                )
                return _shape_records(reader), declared
        prj_path = p.with_suffix(".prj")
        declared = (
            prj_path.read_text(encoding="utf-8", errors="replace") if prj_path.exists() else None
        )
        cpg = p.with_suffix(".cpg")
        enc = cpg.read_text().strip() if cpg.exists() else "utf-8"
        reader = shapefile.Reader(str(p), encoding=enc or "utf-8")
        return _shape_records(reader), declared
    except shapefile.ShapefileException as exc:
        raise LayerError(f"{p.name}: not a readable Shapefile ({exc})") from None


def _encoding(part) -> str:
    cpg = part(".cpg")
    return cpg.read().decode().strip() if cpg else "utf-8"


def _shape_records(reader) -> list[dict[str, Any]]:
    feats = []
    for sr in reader.iterShapeRecords():
        geom = sr.shape.__geo_interface__ if sr.shape.shapeType != 0 else None
        feats.append({"type": "Feature", "geometry": geom, "properties": dict(sr.record.as_dict())})
    return feats


# ---- transforming and checking ---------------------------------------------------------------


def _transformer(crs_name: str | None):
    """A function (x, y arrays) -> (lon, lat) arrays in WGS-84."""
    if crs_name is None:
        return None
    name = crs_name.strip()
    low = name.lower().replace("-", "").replace("_", "")
    if low in (
        "wgs84",
        "epsg:4326",
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "crs84",
        "epsg:4490",
        "cgcs2000",
    ):
        return None  # CGCS2000 and WGS-84 differ by centimetres
    if low in ("gcj02", "bd09"):
        return lambda x, y: ccrs.to_wgs84(x, y, low)
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        src = CRS.from_user_input(name)
    except CRSError as exc:
        raise LayerError(f"unknown CRS {crs_name[:80]!r}: {exc}") from None
    if src.to_epsg() in (4326, 4490):
        return None
    tf = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
    return lambda x, y: tf.transform(x, y)


def _reproject(geom, fn):
    if fn is None:
        return geom

    def tx(coords: np.ndarray) -> np.ndarray:
        lon, lat = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([np.asarray(lon), np.asarray(lat)])

    return shapely.transform(geom, tx)


def _polygonal(geom):
    """Keep the polygon parts of a make_valid result (it may add lines and points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if polys:
            return shapely.union_all(polys)
    return None


def area_m2(geom) -> float:
    """Approximate area of a lon/lat geometry in m² (equirectangular at its centroid; ≤1% here)."""
    if geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    return geom.area * (111_320.0**2) * math.cos(math.radians(lat))


def _field_map(props_keys: list[str], overrides: dict[str, str]) -> dict[str, str | None]:
    lower = {k.lower(): k for k in props_keys}
    out: dict[str, str | None] = {}
    for fld, cands in FIELD_CANDIDATES.items():
        if fld in overrides:
            out[fld] = overrides[fld]
            continue
        out[fld] = next((lower[c.lower()] for c in cands if c.lower() in lower), None)
    return out


def _text(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def build_layer(
    features: list[dict[str, Any]],
    crs: str | None = None,
    field_map: dict[str, str] | None = None,
    default_district: str | None = None,
    default_kind: str = "basic",
) -> tuple[list[Grid], ImportReport]:
    report = ImportReport(features=len(features), crs=crs or "EPSG:4326")
    fn = _transformer(crs)
    keys: set[str] = set()
    for f in features[:200]:
        keys.update(((f or {}).get("properties") or {}).keys() if isinstance(f, dict) else ())
    fmap = _field_map(sorted(keys), field_map or {})
    if fmap["id"] is None:
        raise LayerError(
            "no grid id property found (tried: "
            + ", ".join(FIELD_CANDIDATES["id"])
            + "); name it with --field id=PROPERTY"
        )
    grids: list[Grid] = []
    seen: set[str] = set()
    for i, f in enumerate(features):
        props = ((f or {}).get("properties") or {}) if isinstance(f, dict) else {}
        gid = _text(props.get(fmap["id"]))
        label = gid or f"feature #{i + 1}"

        def reject(reason: str, label: str = label) -> None:
            report.rejected.append({"id": label, "reason": reason})

        if gid is None:
            reject("no grid id")
            continue
        if gid in seen:
            reject("duplicate grid id")
            continue
        kind_raw = _text(props.get(fmap["kind"])) if fmap["kind"] else None
        kind = _KIND_WORDS.get((kind_raw or default_kind).lower())
        if kind is None:
            reject(f"unknown kind {kind_raw!r} (basic/基础网格 or special/专属网格)")
            continue
        gj = f.get("geometry") if isinstance(f, dict) else None
        if not gj:
            reject("no geometry")
            continue
        try:
            geom = shape(gj)
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            reject(f"malformed geometry ({type(exc).__name__}: {str(exc)[:80]})")
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            reject(f"geometry is a {geom.geom_type}, not a polygon")
            continue
        if geom.is_empty:
            reject("empty geometry")
            continue
        coords = shapely.get_coordinates(geom)
        if not np.all(np.isfinite(coords)):
            reject("coordinates are not finite numbers")
            continue
        try:
            geom = _reproject(geom, fn)
        except Exception as exc:  # pyproj errors on out-of-domain points
            reject(f"cannot reproject ({str(exc)[:80]})")
            continue
        xy = shapely.get_coordinates(geom)
        if (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
            raise LayerError(
                f"grid {gid}: coordinates like ({xy[0, 0]:.0f}, {xy[0, 1]:.0f}) are not lon/lat; "
                "the file is in a projected CRS: pass --crs (e.g. EPSG:4548)"
            )
        if not geom.is_valid:
            why = explain_validity(geom)
            fixed = _polygonal(shapely.make_valid(geom))
            if fixed is None or fixed.is_empty or fixed.area == 0:
                reject(f"invalid polygon that cannot be repaired: {why}")
                continue
            lost = 1 - fixed.area / geom.buffer(0).area if geom.buffer(0).area else 0
            report.repaired.append(
                {"id": gid, "reason": f"{why}; repaired (area change {lost:+.1%})"}
            )
            geom = fixed
        if area_m2(geom) < 1.0:
            reject("polygon area is below 1 m²")
            continue
        street = _text(props.get(fmap["street"])) if fmap["street"] else None
        community = _text(props.get(fmap["community"])) if fmap["community"] else None
        # exports often carry official names: 花园北区社区居民委员会 → 花园北区社区
        street = normalise_admin_name(street) if street else None
        community = normalise_admin_name(community) if community else None
        district = (_text(props.get(fmap["district"])) if fmap["district"] else None) or (
            default_district
        )
        if kind == "basic" and street is None:
            report.warnings.append(f"grid {gid}: no street attribute")
        used = {v for v in fmap.values() if v}
        extra = {k: v for k, v in props.items() if k not in used and _jsonable(v)}
        name = _text(props.get(fmap["name"])) if fmap["name"] else None
        grids.append(Grid(gid, name or gid, kind, community, street, district, geom, extra))
        seen.add(gid)
    report.accepted = len(grids)
    if not grids:
        raise LayerError(
            "no grid could be imported: "
            + "; ".join(f"{r['id']}: {r['reason']}" for r in report.rejected[:5])
        )
    _check_topology([g for g in grids if g.kind == "basic"], report)
    return grids, report


def _jsonable(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def _check_topology(basic: list[Grid], report: ImportReport) -> None:
    """Report overlapping basic grids and holes (gaps) inside their union."""
    if not basic:
        return
    geoms = np.array([g.geometry for g in basic], dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    mask = left < right
    left, right = left[mask], right[mask]
    if len(left):
        inter = shapely.intersection(geoms[left], geoms[right])
        for a, b, g in zip(left, right, inter, strict=True):
            if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
                continue
            m2 = area_m2(g)
            smaller = min(area_m2(basic[a].geometry), area_m2(basic[b].geometry))
            if m2 < OVERLAP_MIN_M2 and m2 < OVERLAP_MIN_SHARE * smaller:
                report.sliver_count += m2 >= 0.01
                continue
            report.overlap_count += 1
            if len(report.overlaps) < MAX_REPORT_ITEMS:
                report.overlaps.append(
                    {"grids": [basic[a].id, basic[b].id], "area_m2": round(m2, 1)}
                )
    # morphological closing by ~0.5 m: precision slivers between neighbours are not gaps
    eps = 0.5 / 111_320.0
    union = shapely.union_all(shapely.buffer(geoms, eps, quad_segs=2)).buffer(-eps, quad_segs=2)
    polys = union.geoms if union.geom_type == "MultiPolygon" else [union]
    for poly in polys:
        for ring in getattr(poly, "interiors", []):
            # a hole may contain islands of grids separated from the rest only by a sliver
            hole = shapely.Polygon(ring).difference(union)
            m2 = area_m2(hole)
            if m2 >= GAP_MIN_M2:
                report.gap_count += 1
                if len(report.gaps) < MAX_REPORT_ITEMS:
                    c = hole.representative_point()
                    report.gaps.append(
                        {"at": [round(c.x, 6), round(c.y, 6)], "area_m2": round(m2, 1)}
                    )
    if len(polys) > 1:
        report.warnings.append(f"basic grids form {len(polys)} separate areas")
