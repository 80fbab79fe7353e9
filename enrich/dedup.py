"""Pipeline component ``dedup``: sets ``duplicate_of`` on reposts and copy-paste posts.

Copies are kept (users want "转载 37 次", not silent dropping): the store counts the posts
whose ``duplicate_of`` names an original. The index is rebuilt from the store's recent window
on first use; without a store (``yuqing analyze``) it starts empty and lives in memory.
"""

from __future__ import annotations

import logging
import time

from core.pipeline import Context
from core.schema import Post
from enrich.stateful import RebuiltFromStore
from nlp.dedup import NearDuplicateIndex

log = logging.getLogger(__name__)


class DedupComponent(RebuiltFromStore):
    name = "dedup"
    version = "minhash-1"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.store)
        cfg = ctx.settings.analysis.dedup
        self.cfg = cfg
        self.index = NearDuplicateIndex(
            threshold=cfg.threshold,
            num_perm=cfg.num_perm,
            min_chars=cfg.min_chars,
            window_s=cfg.window_days * 86400,
            max_posts=cfg.max_posts,
        )

    def rebuild(self) -> int:
        """Load the recent window from the store (oldest first, so originals come first)."""
        if self.store is None:
            return 0
        start = time.perf_counter()
        posts = sorted(
            self.recent_posts(self.cfg.window_days * 86400), key=lambda p: (p.published_ts, p.id)
        )
        for p in posts[-self.cfg.max_posts :]:
            self.index.add(p.id, p.full_text, p.published_ts, p.duplicate_of or p.id)
        log.info(
            "dedup: indexed %d recent posts in %.1f s", len(self.index), time.perf_counter() - start
        )
        return len(self.index)

    def __call__(self, posts: list[Post]) -> list[Post]:
        with self.state():
            for p in sorted(posts, key=lambda x: x.published_ts):
                original, _ = self.index.check(p.id, p.full_text, p.published_ts)
                p.duplicate_of = original
        return posts


def create(ctx: Context) -> DedupComponent:
    return DedupComponent(ctx)
