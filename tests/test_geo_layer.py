"""Importing grid layers: repairs, rejections, overlaps and gaps, CRS handling, Shapefiles, versions."""

from __future__ import annotations

import json

import pytest
import shapely
from geo_helpers import feature, grid_2x2, square, write_layer

from geo.layer import LayerError, build_layer, read_features
from geo.registry import GridRegistry, RegistryError
from geo.service import SAMPLE_LAYER


def test_clean_layer_has_no_problems():
    grids, report = build_layer(grid_2x2())
    assert report.accepted == 4 and not report.rejected and not report.repaired
    assert report.overlap_count == 0 and report.gap_count == 0
    assert {g.street for g in grids} == {"王舍人街道", "鲍山街道"}


def test_bowtie_is_repaired_and_reported():
    x, y = 117.12, 36.70
    bowtie = [[[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]]
    grids, report = build_layer([*grid_2x2(), feature("BOW", bowtie)])
    fixed = next(g for g in grids if g.id == "BOW")
    assert fixed.geometry.is_valid and fixed.geometry.area > 0
    assert report.repaired[0]["id"] == "BOW" and "Self-intersection" in report.repaired[0]["reason"]


def test_bad_grids_are_rejected_with_id_and_reason():
    x, y = 117.2, 36.7
    flat = [[[x, y], [x + 0.01, y], [x + 0.02, y], [x, y]]]  # zero area
    feats = [
        *grid_2x2(),
        feature("FLAT", flat),
        feature("G00", square(5, 5)),  # duplicate id
        {
            "type": "Feature",
            "properties": {"id": "PT"},
            "geometry": {"type": "Point", "coordinates": [x, y]},
        },
        {
            "type": "Feature",
            "properties": {"name": "no id"},
            "geometry": {"type": "Polygon", "coordinates": square(6, 6)},
        },
        feature("K", square(7, 7), kind="奇怪"),
        {
            "type": "Feature",
            "properties": {"id": "BROKEN"},
            "geometry": {"type": "Polygon", "coordinates": [[1, 2]]},
        },
    ]
    grids, report = build_layer(feats)
    reasons = {r["id"]: r["reason"] for r in report.rejected}
    assert len(grids) == 4
    assert "cannot be repaired" in reasons["FLAT"] or "area" in reasons["FLAT"]
    assert reasons["G00"] == "duplicate grid id"
    assert "Point" in reasons["PT"]
    assert reasons["feature #8"] == "no grid id"
    assert "unknown kind" in reasons["K"]
    assert "malformed" in reasons["BROKEN"]


def test_overlapping_basic_grids_and_gaps_are_reported():
    over = [
        [[117.105, 36.70], [117.115, 36.70], [117.115, 36.71], [117.105, 36.71], [117.105, 36.70]]
    ]
    feats = [
        feature("A", square(0, 0)),
        feature("B", over, street="鲍山街道", community="叔牙社区"),
    ]
    _grids, report = build_layer(feats)
    assert report.overlap_count == 1
    assert (
        set(report.overlaps[0]["grids"]) == {"A", "B"} and report.overlaps[0]["area_m2"] > 100_000
    )
    ring = [
        feature(f"R{i}{j}", square(i, j)) for i in range(3) for j in range(3) if (i, j) != (1, 1)
    ]
    _grids, report = build_layer(ring)
    assert report.gap_count == 1 and report.gaps[0]["area_m2"] > 500_000


def test_special_grids_may_overlap_basic_ones():
    school = feature("S1", square(0, 0, step=0.002), kind="专属网格", special_type="school")
    grids, report = build_layer([*grid_2x2(), school])
    assert report.overlap_count == 0
    assert next(g for g in grids if g.id == "S1").kind == "special"


def test_projected_crs_is_reprojected(tmp_path):
    from pyproj import Transformer

    tf = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
    feats = []
    for f in grid_2x2():
        ring = [list(tf.transform(x, y)) for x, y in f["geometry"]["coordinates"][0]]
        feats.append({**f, "geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert feats[0]["geometry"]["coordinates"][0][0][0] > 100_000  # metres, not degrees
    with pytest.raises(LayerError, match="--crs"):
        build_layer(feats)
    grids, report = build_layer(feats, "EPSG:4548")
    assert report.crs == "EPSG:4548"
    c = grids[0].geometry.centroid
    assert abs(c.x - 117.105) < 1e-6 and abs(c.y - 36.705) < 1e-6
    # the same CRS declared inside the GeoJSON file
    path = write_layer(tmp_path / "proj.geojson", feats, crs="urn:ogc:def:crs:EPSG::4548")
    feats2, declared = read_features(path)
    grids2, _ = build_layer(feats2, declared)
    assert abs(grids2[0].geometry.centroid.x - 117.105) < 1e-6


def test_gcj02_layer_is_converted():
    from geo.crs import wgs84_to_gcj02

    f = feature("A", square(0, 0))
    ring = f["geometry"]["coordinates"][0]
    gx, gy = wgs84_to_gcj02([p[0] for p in ring], [p[1] for p in ring])
    f["geometry"]["coordinates"] = [[[float(a), float(b)] for a, b in zip(gx, gy, strict=True)]]
    grids, _ = build_layer([f], "gcj02")
    assert grids[0].geometry.centroid.distance(shapely.Point(117.105, 36.705)) < 1e-7


def test_shapefile_with_chinese_field_names(tmp_path):
    shapefile = pytest.importorskip("shapefile")
    w = shapefile.Writer(str(tmp_path / "grids"), shapeType=shapefile.POLYGON, encoding="utf-8")
    w.field("WGBM", "C", 20)
    w.field("WGMC", "C", 40)
    w.field("JDMC", "C", 20)
    w.field("SQMC", "C", 20)
    for f in grid_2x2():
        p = f["properties"]
        w.poly(f["geometry"]["coordinates"])
        w.record(p["id"], p["name"], p["street"], p["community"])
    w.close()
    (tmp_path / "grids.cpg").write_text("UTF-8")
    feats, _ = read_features(tmp_path / "grids.shp")
    grids, report = build_layer(feats)
    assert report.accepted == 4
    assert {(g.id, g.street) for g in grids} >= {("G00", "王舍人街道"), ("G10", "鲍山街道")}


def test_unreadable_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(LayerError, match="not valid GeoJSON"):
        read_features(bad)
    with pytest.raises(LayerError, match="not found"):
        read_features(tmp_path / "missing.geojson")
    with pytest.raises(LayerError, match="no grid id"):
        build_layer([{"type": "Feature", "properties": {"x": 1}, "geometry": None}])


def test_registry_versions_and_atomic_replace(tmp_path):
    reg = GridRegistry(tmp_path / "geo.db", keep=2)
    g1, r1 = build_layer(grid_2x2("A"))
    g2, r2 = build_layer(grid_2x2("B"))
    v1 = reg.import_layer(g1, r1, "first")
    assert reg.active_version() == v1
    assert reg.import_layer(g1, r1, "again", only_if_empty=True) is None
    v2 = reg.import_layer(g2, r2, "second")
    version, grids = reg.load()
    assert version == v2 and {g.id for g in grids} == {"B00", "B01", "B10", "B11"}
    reg.activate(v1)
    assert reg.load()[0] == v1
    reg.import_layer(g2, r2, "third")  # keep=2: the first version is pruned
    assert [x.name for x in reg.layers()] == ["third", "second"]
    with pytest.raises(RegistryError):
        reg.activate(v1)
    reg.close()


def test_sample_layer_is_clean_and_synthetic():
    doc = json.loads(SAMPLE_LAYER.read_text(encoding="utf-8"))
    assert doc["synthetic"] is True and "SYNTHETIC" in doc["name"]
    grids, report = build_layer(doc["features"])
    basic = [g for g in grids if g.kind == "basic"]
    assert 1100 <= len(basic) <= 1300
    assert not report.rejected and report.overlap_count == 0
    assert len({g.street for g in basic}) == 14
    assert all(g.community and g.street for g in basic)
