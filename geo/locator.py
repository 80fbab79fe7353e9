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
    special: list[list[int]]  # indices into GridIndex.special per point


class GridIndex:
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
        if self.basic:
            b = shapely.total_bounds(self._basic_geoms)
            lat0 = (b[1] + b[3]) / 2
            self.bounds = tuple(float(x) for x in b)
        else:
            self.bounds = None
        # degrees of longitude per metre are the larger, so this never snaps farther than snap_m
        self.snap_deg = snap_m / (_M_PER_DEG * math.cos(math.radians(lat0)))

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> PointHits:
        n = len(lon)
        basic = np.full(n, -1, dtype=np.int64)
        snapped = np.zeros(n, dtype=bool)
        special: list[list[int]] = [[] for _ in range(n)]
        if n == 0:
            return PointHits(basic, snapped, special)
        pts = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        if self._basic_tree is not None:
            inp, idx = self._basic_tree.query(pts, predicate="intersects")
            # several hits (a shared edge, an overlap): the lowest grid index wins, deterministically
            order = np.lexsort((idx, inp))
            inp, idx = inp[order], idx[order]
            first = np.ones(len(inp), dtype=bool)
            first[1:] = inp[1:] != inp[:-1]
            basic[inp[first]] = idx[first]
            missing = np.flatnonzero(basic < 0)
            if len(missing) and self.snap_deg > 0:
                m_inp, m_idx = self._basic_tree.query_nearest(
                    pts[missing], max_distance=self.snap_deg, all_matches=False
                )
                basic[missing[m_inp]] = m_idx
                snapped[missing[m_inp]] = True
        if self._special_tree is not None:
            s_inp, s_idx = self._special_tree.query(pts, predicate="intersects")
            for i, j in zip(s_inp.tolist(), s_idx.tolist(), strict=True):
                special[i].append(j)
        return PointHits(basic, snapped, special)
