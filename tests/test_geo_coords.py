"""Coordinates → grids: containment, snapping, outside, special grids, CRS of the source, batches."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from geo_helpers import feature, grid_2x2, square

from core.schema import Coordinates, Post
from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo.hierarchy import load_hierarchy
from geo.layer import build_layer
from geo.locator import GridIndex
from geo.matcher import TextMatcher
from geo.tagger import Geotagger


@pytest.fixture(scope="module")
def tagger() -> Geotagger:
    school = feature("S1", square(0, 0, step=0.002), kind="special", community="祥泰城社区")
    grids, _ = build_layer([*grid_2x2(), school])
    h = load_hierarchy()
    return Geotagger(h, TextMatcher(h), GridIndex(grids, snap_m=50), layer_version=1)


def post(lon, lat, crs="wgs84", text="这里", **kw):
    return Post(
        id=f"t:{lon}:{lat}:{crs}",
        source="t",
        source_type="microblog",
        text=text,
        published_at="2026-11-01T10:00:00+08:00",
        coordinates=Coordinates(lon=lon, lat=lat, crs=crs),
        **kw,
    )


def test_point_in_grid_carries_the_hierarchy(tagger):
    (g,) = tagger.tag_posts([post(117.115, 36.705)])
    assert (g.grid_id, g.street, g.community, g.level) == ("G10", "鲍山街道", "叔牙社区", "grid")
    assert g.method == "coordinates" and g.confidence >= 0.9 and g.special_grid_ids == []


def test_special_grid_as_well_as_basic(tagger):
    (g,) = tagger.tag_posts([post(117.101, 36.701)])
    assert g.grid_id == "G00" and g.special_grid_ids == ["S1"]


def test_snap_within_tolerance_and_outside_beyond(tagger):
    # 30 m west of the layer's west edge → snaps; 500 m → outside the grid area
    near, far = tagger.tag_posts([post(117.10 - 0.00033, 36.705), post(117.10 - 0.0056, 36.705)])
    assert near.grid_id == "G00" and near.method == "coordinates-snap" and near.confidence < 0.9
    assert far.level == "outside" and far.method == "coordinates"


def test_gcj02_and_bd09_points_land_in_the_wgs84_grid(tagger):
    lon, lat = 117.1195, 36.7195  # inside G11 near its NE corner
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    geos = tagger.tag_posts(
        [
            post(lon, lat),
            post(float(g_lon), float(g_lat), "gcj02"),
            post(float(b_lon), float(b_lat), "bd09"),
        ]
    )
    assert [g.grid_id for g in geos] == ["G11", "G11", "G11"]
    # taken at face value, the GCJ-02 point would be ~500 m off: outside this small layer
    (raw,) = tagger.tag_posts([post(float(g_lon), float(g_lat), "wgs84")])
    assert raw.grid_id != "G11"


def test_coordinates_beat_text_but_text_in_area_beats_outside_point(tagger):
    (g,) = tagger.tag_posts([post(117.115, 36.705, text="唐冶街道的路修好了")])
    assert g.street == "鲍山街道" and g.method == "coordinates"
    (g,) = tagger.tag_posts([post(116.39, 39.91, text="唐冶街道的路修好了")])
    assert g.street == "唐冶街道" and g.method == "text"


def test_batch_equals_one_by_one(tagger):
    rng = np.random.default_rng(7)
    lon = rng.uniform(117.095, 117.125, 300)
    lat = rng.uniform(36.695, 36.725, 300)
    batch = tagger.locate_points(lon, lat)
    single = [tagger.locate_points([a], [b])[0] for a, b in zip(lon, lat, strict=True)]
    assert batch == single
    assert {r.grid for r in batch} >= {0, 1, 2, 3, -1}


def test_raster_lookup_equals_the_exact_strtree_query_on_the_sample_layer():
    from geo.layer import read_features
    from geo.service import SAMPLE_LAYER

    grids, _ = build_layer(read_features(SAMPLE_LAYER)[0])
    index = GridIndex(grids, snap_m=0)
    minx, miny, maxx, maxy = index.bounds
    rng = np.random.default_rng(3)
    lon = rng.uniform(minx - 0.01, maxx + 0.01, 50_000)
    lat = rng.uniform(miny - 0.01, maxy + 0.01, 50_000)
    hits = index.locate(lon, lat)
    assert np.array_equal(hits.basic, index.locate_exact(lon, lat))
    assert 0.3 < (hits.basic >= 0).mean() < 0.9
    # points exactly on vertices of a grid boundary still find a grid
    xy = shapely.get_coordinates(grids[10].geometry)[:5]
    assert (index.locate(xy[:, 0], xy[:, 1]).basic >= 0).all()
