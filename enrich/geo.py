"""Pipeline component ``geo``: fill ``post.geo`` from address, coordinates, text, author location.

The tagger comes from the process's :class:`geo.service.GeoService`, which rebuilds it when a new
grid layer is imported or the gazetteer changes, so a re-import needs no restart.
"""

from __future__ import annotations

from core.pipeline import Context
from core.schema import Post
from geo.service import GeoService, get_geo


class GeoComponent:
    name = "geo"

    def __init__(self, service: GeoService) -> None:
        self.service = service

    @property
    def version(self) -> str:
        return f"geo-1/layer-{self.service.tagger().layer_version}"

    def __call__(self, posts: list[Post]) -> list[Post]:
        tagger = self.service.tagger()
        for post, geo in zip(posts, tagger.tag_posts(posts), strict=True):
            post.geo = geo
        return posts

    def reload(self) -> bool:
        before = self.service.tagger().layer_version
        self.service._checked = 0.0  # force the next call to look for a new layer
        return self.service.tagger().layer_version != before


def create(ctx: Context) -> GeoComponent:
    return GeoComponent(get_geo(ctx.settings, ctx.extras))
