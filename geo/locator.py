"""Points → grids with shapely 2's STRtree, vectorised over a whole batch.

Basic grids partition the area (a point gets at most one); special grids (schools, markets)
overlap them, so a point may also carry several special grid ids. A point just outside every
basic grid (GPS noise, a boundary drawn along a road's centre line) snaps to the nearest grid
within ``snap_m`` metres; farther away it is outside the grid area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from geo.layer import Grid

_M_PER_DEG = 111_320.0


@dataclass
class PointHits:
    basic: np.ndarray  # int index into GridIndex.basic, -1 when none
    snapped: np.ndarray  # bool: found by the snap tolerance, not containment
    special: dict[int, list[int]]  # point index -> indices into GridIndex.special (sparse)


class GridIndex:
    """Basic and special grids with an STRtree and a raster of lookup cells over the layer.

    Most cells lie wholly inside one basic grid, so most points are answered by an array lookup
    (no shapely Point is created); points in cells crossed by a boundary are tested exactly
    against the few candidate grids of their cell with ``intersects_xy``. The result is the
    same as an STRtree point query — the raster only decides which polygons to test.
    """

    def __init__(self, grids: list[Grid], snap_m: float = 50.0) -> None:
        self.basic = [g for g in grids if g.kind == "basic"]
        self.special = [g for g in grids if g.kind == "special"]
        self.by_id = {g.id: g for g in grids}
        self._basic_geoms = np.array([g.geometry for g in self.basic], dtype=object)
        self._special_geoms = np.array([g.geometry for g in self.special], dtype=object)
        for arr in (self._basic_geoms, self._special_geoms):
            if len(arr):
                shapely.prepare(arr)
        self._basic_tree = shapely.STRtree(self._basic_geoms) if self.basic else None
        self._special_tree = shapely.STRtree(self._special_geoms) if self.special else None
        lat0 = 36.7
        self.bounds = None
        if self.basic:
            b = shapely.total_bounds(self._basic_geoms)
            lat0 = (b[1] + b[3]) / 2
            self.bounds = tuple(float(x) for x in b)
        # degrees of longitude per metre are the larger, so this never snaps farther than snap_m
        self.snap_deg = snap_m / (_M_PER_DEG * math.cos(math.radians(lat0)))
        if self.basic:
            self._build_raster()

    def _build_raster(self) -> None:
        tree, geoms = self._basic_tree, self._basic_geoms
        areas = shapely.area(geoms)
        cell = float(np.clip(math.sqrt(float(np.median(areas))) / 3, 0.0003, 0.01))
        x0, y0, x1, y1 = self.bounds
        pad = self.snap_deg + cell
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        nx = max(1, math.ceil((x1 - x0) / cell))
        ny = max(1, math.ceil((y1 - y0) / cell))
        while nx * ny > 4_000_000:  # bound memory for a very large layer
            cell *= 1.5
            nx, ny = math.ceil((x1 - x0) / cell), math.ceil((y1 - y0) / cell)
        ii, jj = np.meshgrid(np.arange(nx), np.arange(ny))
        ii, jj = ii.ravel(), jj.ravel()
        boxes = shapely.box(
            x0 + ii * cell, y0 + jj * cell, x0 + (ii + 1) * cell, y0 + (jj + 1) * cell
        )
        cell_id = jj * nx + ii
        inp, idx = tree.query(boxes, predicate="intersects")
        order = np.lexsort((idx, inp))
        inp, idx = inp[order], idx[order]
        covered = shapely.covers(geoms[idx], boxes[inp])
        sole = np.full(nx * ny, -1, dtype=np.int64)
        # the lowest covering grid, as in the exact path (cells covered twice are overlaps)
        first_cov = covered.copy()
        seen = np.zeros(nx * ny, dtype=bool)
        for k in np.flatnonzero(covered):  # covered pairs are few per cell; first one wins
            c = cell_id[inp[k]]
            if seen[c]:
                first_cov[k] = False
            seen[c] = True
        sole[cell_id[inp[first_cov]]] = idx[first_cov]
        mixed = sole[cell_id[inp]] < 0
        c_inp, c_idx = inp[mixed], idx[mixed]
        counts = np.bincount(cell_id[c_inp], minlength=nx * ny)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        # snap candidates: cells near a grid but not intersecting one
        near = np.zeros(nx * ny, dtype=bool)
        if self.snap_deg > 0:
            n_inp, _n = tree.query(boxes, predicate="dwithin", distance=self.snap_deg)
            near[cell_id[n_inp]] = True
        self._raster = (x0, y0, cell, nx, ny, sole, counts, starts, c_idx, near)

    def _basic_hits(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, cell, nx, ny, sole, counts, starts, cand, near = self._raster
        n = len(lon)
        basic = np.full(n, -1, dtype=np.int64)
        snapped = np.zeros(n, dtype=bool)
        ci = np.floor((lon - x0) / cell)
        cj = np.floor((lat - y0) / cell)
        inside = (ci >= 0) & (ci < nx) & (cj >= 0) & (cj < ny)
        pts = np.flatnonzero(inside)
        cells = (cj[pts] * nx + ci[pts]).astype(np.int64)
        basic[pts] = sole[cells]
        todo = basic[pts] < 0
        b_pts, b_cells = pts[todo], cells[todo]
        cnt = counts[b_cells]
        has = cnt > 0
        b_pts, b_cells, cnt = b_pts[has], b_cells[has], cnt[has]
        if len(b_pts):
            rep = np.repeat(np.arange(len(b_pts)), cnt)
            offs = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            grid = cand[np.repeat(starts[b_cells], cnt) + offs]
            hit = shapely.intersects_xy(self._basic_geoms[grid], lon[b_pts[rep]], lat[b_pts[rep]])
            # candidates are in ascending grid order: keep the first hit per point
            hp, hg = rep[hit], grid[hit]
            first = np.ones(len(hp), dtype=bool)
            first[1:] = hp[1:] != hp[:-1]
            basic[b_pts[hp[first]]] = hg[first]
        if self.snap_deg > 0:
            missing = pts[(basic[pts] < 0) & near[cells]]
            if len(missing):
                m_pts = shapely.points(lon[missing], lat[missing])
                m_inp, m_idx = self._basic_tree.query_nearest(
                    m_pts, max_distance=self.snap_deg, all_matches=False
                )
                basic[missing[m_inp]] = m_idx
                snapped[missing[m_inp]] = True
        return basic, snapped

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> PointHits:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        n = len(lon)
        special: dict[int, list[int]] = {}
        if n == 0 or self._basic_tree is None:
            return PointHits(np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool), special)
        basic, snapped = self._basic_hits(lon, lat)
        if self._special_tree is not None:
            # special grids are few and small: test only points inside their joint bounds
            sx0, sy0, sx1, sy1 = shapely.total_bounds(self._special_geoms)
            cand = np.flatnonzero((lon >= sx0) & (lon <= sx1) & (lat >= sy0) & (lat <= sy1))
            if len(cand):
                s_inp, s_idx = self._special_tree.query(
                    shapely.points(lon[cand], lat[cand]), predicate="intersects"
                )
                for i, j in zip(cand[s_inp].tolist(), s_idx.tolist(), strict=True):
                    special.setdefault(i, []).append(j)
        return PointHits(basic, snapped, special)

    def locate_exact(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Reference path without the raster (STRtree point query), for tests."""
        pts = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        basic = np.full(len(pts), -1, dtype=np.int64)
        inp, idx = self._basic_tree.query(pts, predicate="intersects")
        order = np.lexsort((idx, inp))
        inp, idx = inp[order], idx[order]
        first = np.ones(len(inp), dtype=bool)
        first[1:] = inp[1:] != inp[:-1]
        basic[inp[first]] = idx[first]
        return basic
