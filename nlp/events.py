"""Incremental event clustering: text similarity + place + time window.

Each post is compared only with the open events that share one of its top terms (an inverted
index) and were active within the time window. Join score::

    score = cosine(post tf-idf, event centroid)
          + 0.20 if the same grid / community / street
          + 0.15 if a risk signal kind is shared (fire, collective action, ...)
          + 0.10 if the same category

A post joins the best event whose score reaches the threshold (0.45 by default) and whose
cosine reaches ``min_text_similarity``; two known, different streets never merge (two fires on
one day in different streets are two incidents). Otherwise it opens a new event. IDF comes
from the stream itself (document frequencies of the posts seen), so no corpus is needed.

Cost per post: tokenising plus the candidate events sharing a term: flat in the number of
posts seen, bounded by ``max_active`` open events (measured in ``bench/bench_nlp_chain.py``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.schema import Post
from nlp.keywords import stopwords
from nlp.segment import words
from store.events import Event, event_heat, hour_key, prune_hourly

_RISK_RANK = {"none": 0, "elevated": 1, "critical": 2}
_SENTENCE_END = re.compile(r"[。！？!?\n]")
_HASHTAG = re.compile(r"#[^#]{1,30}#")
MAX_POST_TERMS = 30


@dataclass
class PostFeatures:
    id: str
    ts: int
    terms: dict[str, float]
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    category: str | None = None
    risk_kinds: frozenset[str] = frozenset()
    risk_level: str = "none"
    source: str = ""
    source_type: str = ""
    engagement: int = 0
    title: str | None = None
    head: str = ""
    keywords: list[str] = field(default_factory=list)
    duplicate_of: str | None = None


def _head(text: str, limit: int = 40) -> str:
    t = _HASHTAG.sub("", text).strip()
    first = _SENTENCE_END.split(t, 1)[0].strip() or t
    return first[:limit] + ("…" if len(first) > limit else "")


def post_features(post: Post, streets: dict[str, str] | None = None) -> PostFeatures:
    """``streets`` maps a name or alias found in the text to a street, used without geo."""
    stop = stopwords()
    tf: Counter[str] = Counter()
    for w in words(post.full_text[:3000]):
        if len(w) >= 2 and w not in stop and not w.isdigit():
            tf[w] += 1
    terms = dict(tf.most_common(MAX_POST_TERMS))
    geo = post.geo
    street = geo.street if geo and geo.street else None
    if street is None and streets:  # no geo component: the first street named in the text
        text = post.full_text
        street = next((full for name, full in streets.items() if name in text), None)
    kinds = frozenset(s.kind for s in (post.risk.signals if post.risk else []) if s.level != "none")
    return PostFeatures(
        id=post.id,
        ts=post.published_ts,
        terms=terms,
        street=street,
        community=geo.community if geo else None,
        grid=geo.grid_id if geo else None,
        category=post.category.label if post.category else None,
        risk_kinds=kinds,
        risk_level=post.risk.level if post.risk else "none",
        source=post.source,
        source_type=post.source_type.value,
        engagement=post.engagement.total,
        title=post.title,
        head=_head(post.text),
        keywords=list(post.keywords),
        duplicate_of=post.duplicate_of,
    )


@dataclass
class _Open:
    event: Event
    centroid: dict[str, float]
    kinds: set[str]
    rep_rank: tuple
    place_keys: set[str] = field(default_factory=set)
    norm: float = 1.0  # of the centroid, kept current by _add


MAX_POSTING = 300  # a term shared by more open events than this is too common to find candidates
MAX_CANDIDATES = 50  # events scored per post: those sharing the most terms


def _place_keys(street: str | None, kinds) -> set[str]:
    return {f"\x00{street}|{k}" for k in kinds} if street else set()


def event_id_for(post_id: str) -> str:
    return "ev-" + hashlib.sha1(post_id.encode("utf-8")).hexdigest()[:16]


class EventClusterer:
    """The in-memory state of open events. Not thread-safe: the component serialises calls."""

    def __init__(
        self,
        window_s: float = 72 * 3600,
        threshold: float = 0.45,
        min_text_similarity: float = 0.05,
        max_active: int = 50_000,
        max_terms: int = 40,
        max_age_s: float = 14 * 86400,
    ) -> None:
        self.window_s = window_s
        self.threshold = threshold
        self.min_text_similarity = min_text_similarity
        self.max_active = max_active
        self.max_terms = max_terms
        self.max_age_s = max_age_s
        self.df: Counter[str] = Counter()
        self.n_docs = 0
        self.open: OrderedDict[str, _Open] = OrderedDict()  # least recently active first
        self.index: dict[str, set[str]] = {}
        self.assigned: OrderedDict[str, str] = OrderedDict()  # post id -> event id
        self.newest_ts = 0

    # ---- state ---------------------------------------------------------------------------
    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def _vector(self, terms: dict[str, float]) -> dict[str, float]:
        v = {t: (1 + math.log(n)) * self.idf(t) for t, n in terms.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    def _index_add(self, ev_id: str, terms) -> None:
        for t in terms:
            self.index.setdefault(t, set()).add(ev_id)

    def _index_remove(self, ev_id: str, terms) -> None:
        for t in terms:
            s = self.index.get(t)
            if s is not None:
                s.discard(ev_id)
                if not s:
                    del self.index[t]

    def restore(self, event: Event, post_ids: list[str] | None = None) -> None:
        """Re-open a stored event (service restart): its centroid is saved in ``terms``."""
        st = _Open(event, dict(event.terms), set(), (False, False, event.engagement))
        st.norm = math.sqrt(sum(x * x for x in st.centroid.values())) or 1.0
        self.open[event.id] = st
        self.open.move_to_end(event.id)
        self._index_add(event.id, st.centroid)
        for pid in post_ids or []:
            self.assigned[pid] = event.id
        self.newest_ts = max(self.newest_ts, int(event.last_seen.timestamp()))

    def observe_terms(self, terms) -> None:
        self.n_docs += 1
        self.df.update(terms)

    def _evict(self) -> None:
        horizon = self.newest_ts - self.window_s
        while self.open:
            ev_id, st = next(iter(self.open.items()))
            if st.event.last_seen.timestamp() >= horizon and len(self.open) <= self.max_active:
                break
            self.open.popitem(last=False)
            self._index_remove(ev_id, st.centroid)
            self._index_remove(ev_id, st.place_keys)
        while len(self.assigned) > self.max_active * 20:
            self.assigned.popitem(last=False)

    # ---- assignment ----------------------------------------------------------------------
    def _too_old(self, f: PostFeatures, e: Event) -> bool:
        """An event older than ``max_age_s`` at the post's time takes no new posts."""
        return f.ts - e.first_seen.timestamp() > self.max_age_s

    def _score(self, f: PostFeatures, vec: dict[str, float], st: _Open) -> float:
        e = st.event
        if f.street and e.streets and f.street not in e.streets:
            return -1.0
        if not (
            e.first_seen.timestamp() - self.window_s
            <= f.ts
            <= e.last_seen.timestamp() + self.window_s
        ):
            return -1.0
        if self._too_old(f, e):
            return -1.0  # closed by age: the post starts a new event
        c = st.centroid
        cos = sum(w * c.get(t, 0.0) for t, w in vec.items()) / st.norm
        if cos < self.min_text_similarity:
            return -1.0
        score = cos
        if (
            (f.grid and f.grid in e.grids)
            or (f.community and f.community in e.communities)
            or f.street
            and f.street in e.streets
        ):
            score += 0.20
        if f.risk_kinds & st.kinds:
            score += 0.15
        if f.category and f.category in e.categories:
            score += 0.10
        return score

    def assign(self, f: PostFeatures) -> tuple[Event | None, bool]:
        """The event the post belongs to and whether that event changed (needs saving)."""
        known = self.assigned.get(f.id)
        if known is not None:  # re-processing the same post: same event, counted once
            st = self.open.get(known)
            return (st.event if st else None), False
        self.observe_terms(f.terms)
        vec = self._vector(f.terms)
        best: tuple[float, str] | None = None
        if f.duplicate_of and f.duplicate_of in self.assigned:
            dup_ev = self.assigned[f.duplicate_of]
            if dup_ev in self.open and not self._too_old(f, self.open[dup_ev].event):
                best = (9.0, dup_ev)  # a copy joins its original's event
        if best is None:
            overlap: Counter[str] = Counter()
            for t in [*vec, *_place_keys(f.street, f.risk_kinds)]:
                posting = self.index.get(t)
                if posting and len(posting) <= MAX_POSTING:
                    overlap.update(posting)
            for ev_id, _ in overlap.most_common(MAX_CANDIDATES):
                s = self._score(f, vec, self.open[ev_id])
                if s >= self.threshold and (best is None or (s, ev_id) > best):
                    best = (s, ev_id)
        if best is None:
            st = self._new(f, vec)
        else:
            st = self.open[best[1]]
            self._add(st, f, vec)
        self.assigned[f.id] = st.event.id
        self.newest_ts = max(self.newest_ts, f.ts)
        self._evict()
        return st.event, True

    def _new(self, f: PostFeatures, vec: dict[str, float]) -> _Open:
        t = datetime.fromtimestamp(f.ts, UTC)
        ev = Event(id=event_id_for(f.id), title=f.title or f.head, first_seen=t, last_seen=t)
        st = _Open(ev, {}, set(), (-1,))
        self.open[ev.id] = st
        self._add(st, f, vec)
        return st

    def _add(self, st: _Open, f: PostFeatures, vec: dict[str, float]) -> None:
        e = st.event
        t = datetime.fromtimestamp(f.ts, UTC)
        e.first_seen = min(e.first_seen, t)
        e.last_seen = max(e.last_seen, t)
        e.post_count += 1
        e.engagement += f.engagement
        _bump(e.sources, f.source)
        _bump(e.source_types, f.source_type)
        _bump(e.streets, f.street)
        _bump(e.communities, f.community)
        _bump(e.grids, f.grid)
        _bump(e.categories, f.category)
        if _RISK_RANK[f.risk_level] > _RISK_RANK[e.risk]:
            e.risk = f.risk_level  # type: ignore[assignment]
        st.kinds |= f.risk_kinds
        keys = _place_keys(f.street, f.risk_kinds) - st.place_keys
        if keys:
            st.place_keys |= keys
            self._index_add(e.id, keys)
        hk = hour_key(f.ts)
        e.hourly[hk] = e.hourly.get(hk, 0) + 1
        e.hourly = prune_hourly(e.hourly, int(e.last_seen.timestamp()))
        # centroid: sum of member vectors, top terms kept
        old_terms = set(st.centroid)
        c = dict(st.centroid)
        for term, w in vec.items():
            c[term] = c.get(term, 0.0) + w
        st.centroid = dict(sorted(c.items(), key=lambda kv: -kv[1])[: self.max_terms])
        st.norm = math.sqrt(sum(x * x for x in st.centroid.values())) or 1.0
        self._index_remove(e.id, old_terms - set(st.centroid))
        self._index_add(e.id, set(st.centroid) - old_terms)
        e.terms = {k: round(v, 4) for k, v in st.centroid.items()}
        e.keywords = list(st.centroid)[:8]
        # title: a news headline beats any titled post, which beats the first post's opening
        rank = (f.source_type == "news" and bool(f.title), bool(f.title), f.engagement)
        if rank > st.rep_rank:
            st.rep_rank = rank
            e.title = f.title or f.head
            e.representative_id = f.id
        e.heat = event_heat(e)
        self.open.move_to_end(e.id)


def _bump(d: dict[str, int], key: str | None) -> None:
    if key:
        d[key] = d.get(key, 0) + 1
