"""Geotagging a post: hotline address, coordinates, text, the author's stated location — in order.

The first method that places a post inside the area wins; "outside" from coordinates or from
the text is kept only when nothing places it inside (a 北京 user writing about 唐冶街道 is
about 唐冶). The author's location (``发布于 北京``) can only mark a post outside — it is
where the author is, not what the post is about — and a post that nothing places stays
``unlocated`` rather than being guessed into a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.schema import Geo, Post
from geo.crs import to_wgs84
from geo.hierarchy import Hierarchy
from geo.locator import GridIndex
from geo.matcher import Resolution, TextMatcher

ADDRESS_WEIGHT = 2.0


def make_geo(
    level: str = "unlocated",
    grid_id: str | None = None,
    special_grid_ids: list[str] | None = None,
    community: str | None = None,
    street: str | None = None,
    district: str | None = None,
    method: str | None = None,
    confidence: float = 0.0,
    matched: list[str] | None = None,
) -> Geo:
    """A Geo from values this module produced."""
    return Geo(
        grid_id=grid_id,
        special_grid_ids=list(special_grid_ids or []),
        community=community,
        street=street,
        district=district,
        level=level,
        method=method,
        confidence=float(confidence),
        matched=list(matched or []),
    )


@dataclass
class CoordResult:
    grid: int  # index into index.basic, -1 none
    snapped: bool
    special: list[int]


class Geotagger:
    def __init__(
        self,
        hierarchy: Hierarchy,
        matcher: TextMatcher,
        index: GridIndex | None,
        layer_version: int | None = None,
    ) -> None:
        self.hierarchy = hierarchy
        self.matcher = matcher
        self.index = index
        self.layer_version = layer_version
        self.district = hierarchy.district

    # ---- coordinates ------------------------------------------------------------------------

    def locate_points(self, lon, lat, crs="wgs84") -> list[CoordResult]:
        if self.index is None:
            return [CoordResult(-1, False, []) for _ in range(len(lon))]
        wlon, wlat = to_wgs84(lon, lat, crs)
        hits = self.index.locate(wlon, wlat)
        sp = hits.special
        return [
            CoordResult(b, s, sp.get(i, []))
            for i, (b, s) in enumerate(zip(hits.basic.tolist(), hits.snapped.tolist(), strict=True))
        ]

    def _geo_from_point(self, hit: CoordResult) -> Geo | None:
        if self.index is None or hit.grid < 0:
            return None
        g = self.index.basic[hit.grid]
        return make_geo(
            grid_id=g.id,
            special_grid_ids=[self.index.special[j].id for j in hit.special],
            community=g.community,
            street=g.street,
            district=g.district or self.district,
            level="grid",
            method="coordinates-snap" if hit.snapped else "coordinates",
            confidence=0.8 if hit.snapped else 0.95,
        )

    # ---- text -------------------------------------------------------------------------------

    def _geo_from_text(self, res: Resolution, method: str) -> Geo:
        grid_id = res.grid_id
        community, street = res.community, res.street
        specials = list(res.special_ids)
        if self.index is not None:
            specials = [s for s in specials if s in self.index.by_id]
            if grid_id is not None:
                g = self.index.by_id.get(grid_id)
                if g is None or g.kind != "basic" or (g.street and g.street != street):
                    grid_id = None
                elif g.community:
                    community = g.community
        level = res.level
        if level == "grid" and grid_id is None:
            level = "community" if community else "street"
        in_area = level in ("grid", "community", "street", "district")
        return make_geo(
            grid_id=grid_id,
            special_grid_ids=specials,
            community=community,
            street=street,
            district=self.district if in_area else None,
            level=level,
            method=method if level != "unlocated" else None,
            confidence=res.confidence,
            matched=list(res.matched)[:20],
        )

    def tag_fields(
        self,
        text: str,
        address: str | None = None,
        author_location: str | None = None,
        point: CoordResult | None = None,
        has_point: bool = False,
    ) -> Geo:
        by_point = self._geo_from_point(point) if point is not None else None
        if by_point is not None:
            return by_point
        m = self.matcher
        addr_matches = m.find(address) if address else []
        text_matches = m.find(text)
        if not addr_matches and not text_matches and not has_point and not author_location:
            return make_geo()
        res = m.resolve([(addr_matches, ADDRESS_WEIGHT), (text_matches, 1.0)])
        method = ("address+text" if text_matches else "address") if addr_matches else "text"
        if res.level in ("grid", "community", "street"):
            return self._geo_from_text(res, method)
        if has_point and self.index is not None:
            # a point beyond every grid (and the snap tolerance): outside the grid area
            return make_geo(
                level="outside", method="coordinates", confidence=0.9, matched=list(res.matched)
            )
        if res.level in ("outside", "district"):
            return self._geo_from_text(res, method)
        if author_location and m.outside_only(author_location):
            return make_geo(
                level="outside",
                method="author_location",
                confidence=0.6,
                matched=[author_location[:40]],
            )
        return make_geo(level="unlocated", matched=list(res.matched)[:20])

    def tag_posts(self, posts: list[Post]) -> list[Geo]:
        points: dict[int, CoordResult] = {}
        with_coords = [i for i, p in enumerate(posts) if p.coordinates is not None]
        if with_coords and self.index is not None:
            lon = np.array([posts[i].coordinates.lon for i in with_coords])
            lat = np.array([posts[i].coordinates.lat for i in with_coords])
            crs = np.array([posts[i].coordinates.crs for i in with_coords])
            for i, hit in zip(with_coords, self.locate_points(lon, lat, crs), strict=True):
                points[i] = hit
        out = []
        for i, p in enumerate(posts):
            out.append(
                self.tag_fields(
                    p.full_text,
                    p.address,
                    p.author_location,
                    points.get(i),
                    has_point=p.coordinates is not None,
                )
            )
        return out
