"""Pipeline component ``events``: groups posts about one incident and keeps the events stored.

Runs after ``geo`` (grids/streets from ``post.geo``; without geo, the street named in the text)
and after ``dedup`` (a copy joins its original's event). Open events are rebuilt from the
store's recent window on first use; without a store (``yuqing analyze``) they live in memory.
The store's event methods are optional for a backend: without them events stay in memory and
a warning is logged once.
"""

from __future__ import annotations

import csv
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from core.pipeline import Context
from core.schema import Post
from enrich.stateful import RebuiltFromStore
from nlp.events import EventClusterer, post_features
from store.events import Event, EventQuery

log = logging.getLogger(__name__)
DIVISIONS = Path(__file__).resolve().parent.parent / "data" / "geo" / "licheng_divisions.csv"


# bare stems that are also ordinary words or other places' names (华山 the mountain, 东风 the wind)
_AMBIGUOUS_STEMS = {"华山", "东风", "临港"}


@lru_cache(maxsize=1)
def street_names() -> dict[str, str]:
    """Street name or unambiguous stem (唐冶 → 唐冶街道) for posts without ``post.geo``."""
    if not DIVISIONS.exists():
        return {}
    with DIVISIONS.open(encoding="utf-8") as fh:
        names = [r["name"] for r in csv.DictReader(fh) if r.get("level") == "street"]
    out: dict[str, str] = {}
    for n in sorted(names, key=len, reverse=True):
        out[n] = n
        stem = n.removesuffix("街道")
        if stem != n and len(stem) >= 2 and stem not in _AMBIGUOUS_STEMS:
            out.setdefault(stem, n)
    return out


class EventsComponent(RebuiltFromStore):
    name = "events"
    version = "events-1"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.store)
        cfg = ctx.settings.analysis.events
        self.cfg = cfg
        self.clusterer = EventClusterer(
            window_s=cfg.window_hours * 3600,
            threshold=cfg.threshold,
            min_text_similarity=cfg.min_text_similarity,
            max_active=cfg.max_active,
            max_terms=cfg.max_terms,
            max_age_s=cfg.max_age_days * 86400,
        )
        self.persist = self.store is not None and callable(
            getattr(self.store, "upsert_events", None)
        )
        if self.store is not None and not self.persist:
            log.warning("store %s cannot keep events: events live in memory only", self.store)

    def rebuild(self) -> int:
        """Re-open the events active within the window and re-learn term frequencies."""
        if self.store is None:
            return 0
        start = time.perf_counter()
        since = datetime.now(UTC) - timedelta(hours=self.cfg.window_hours)
        members: dict[str, list[str]] = {}
        for p in self.recent_posts(self.cfg.window_hours * 3600):
            self.clusterer.observe_terms(post_features(p).terms)
            if p.event_id:
                members.setdefault(p.event_id, []).append(p.id)
        n = 0
        if self.persist:
            cursor = None
            events: list[Event] = []
            while len(events) < self.cfg.max_active:
                res = self.store.search_events(
                    EventQuery(since=since, sort="last_seen", size=1000, cursor=cursor)
                )
                events += res.events
                cursor = res.next_cursor
                if not cursor:
                    break
            for ev in sorted(events, key=lambda e: e.last_seen):
                self.clusterer.restore(ev, members.get(ev.id))
                n += 1
        log.info("events: re-opened %d events in %.1f s", n, time.perf_counter() - start)
        return n

    def __call__(self, posts: list[Post]) -> list[Post]:
        if not posts:
            return posts
        changed: dict[str, Event] = {}
        with self.state():
            streets = street_names()
            for p in sorted(posts, key=lambda x: x.published_ts):
                ev, dirty = self.clusterer.assign(post_features(p, streets))
                p.event_id = ev.id if ev is not None else self.clusterer.assigned.get(p.id)
                if ev is not None and dirty:
                    changed[ev.id] = ev
            if self.persist and changed:
                self.store.upsert_events([e.model_copy(deep=True) for e in changed.values()])  # type: ignore[union-attr]
        return posts


def create(ctx: Context) -> EventsComponent:
    return EventsComponent(ctx)
