"""GCJ-02 / BD-09 ⇄ WGS-84: round trips, agreement with coord-convert, the size of the shift."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo import crs


def _metres(lon1, lat1, lon2, lat2):
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    dy = (lat2 - lat1) * 110_540
    return math.hypot(dx, dy)


POINTS = np.array([[117.0545, 36.6735], [117.2, 36.66], [116.39, 39.91], [121.47, 31.23]])


def test_gcj02_round_trip_is_exact():
    lon, lat = POINTS[:, 0], POINTS[:, 1]
    g_lon, g_lat = crs.wgs84_to_gcj02(lon, lat)
    back_lon, back_lat = crs.gcj02_to_wgs84(g_lon, g_lat)
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_bd09_round_trip_is_exact():
    lon, lat = POINTS[:, 0], POINTS[:, 1]
    b_lon, b_lat = crs.wgs84_to_bd09(lon, lat)
    back_lon, back_lat = crs.bd09_to_wgs84(b_lon, b_lat)
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_gcj02_shift_in_licheng_is_hundreds_of_metres():
    g_lon, g_lat = crs.wgs84_to_gcj02(117.0545, 36.6735)
    assert 300 < _metres(117.0545, 36.6735, float(g_lon), float(g_lat)) < 800
    b_lon, b_lat = crs.wgs84_to_bd09(117.0545, 36.6735)
    assert _metres(117.0545, 36.6735, float(b_lon), float(b_lat)) > 800


def test_outside_china_is_unchanged():
    lon, lat = crs.wgs84_to_gcj02(2.35, 48.85)  # Paris
    assert float(lon) == 2.35 and float(lat) == 48.85
    assert crs.out_of_china(2.35, 48.85)


def test_agrees_with_coord_convert():
    cc = pytest.importorskip("coord_convert.transform")
    for lon, lat in POINTS:
        assert np.allclose(crs.wgs84_to_gcj02(lon, lat), cc.wgs2gcj(lon, lat), atol=1e-9)
        assert np.allclose(crs.wgs84_to_bd09(lon, lat), cc.wgs2bd(lon, lat), atol=1e-9)
        g = cc.wgs2gcj(lon, lat)
        assert np.allclose(crs.gcj02_to_wgs84(*g), cc.gcj2wgs(*g), atol=2e-6)


def test_to_wgs84_per_point_crs_and_unknown_name():
    lon, lat = POINTS[:2, 0], POINTS[:2, 1]
    g = crs.wgs84_to_gcj02(lon[0], lat[0])
    b = crs.wgs84_to_bd09(lon[1], lat[1])
    out_lon, out_lat = crs.to_wgs84([g[0], b[0]], [g[1], b[1]], np.array(["gcj02", "bd09"]))
    assert np.allclose(out_lon, lon, atol=1e-8) and np.allclose(out_lat, lat, atol=1e-8)
    with pytest.raises(ValueError, match="unknown coordinate system"):
        crs.to_wgs84([1.0], [1.0], "utm")
