"""Place names in text: one Aho-Corasick automaton, leftmost-longest matches, then a vote.

Every name (street and community names with their official and short forms, gazetteer entries,
special-grid names, the district's own name, and names meaning "elsewhere") is one key; the
longest match wins, so 华山街道 beats 华山, 上海花园社区 beats 上海 and 济南东站 beats nothing.
Matches vote for streets; a community name found in several streets votes for each of them, so
a street named in the same post settles it (董家街道苏家庄村) and a lone ambiguous name places
nothing. Conflicting streets without a clear winner give the district only: an honest
"somewhere in 历城" beats sending an alert to the wrong street.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

from geo.gazetteer import Entry
from geo.hierarchy import Hierarchy
from geo.names import (
    BLOCK_STEMS,
    JINAN_OTHER_DISTRICTS,
    OTHER_CITIES,
    OTHER_PROVINCES,
    ROAD_SUFFIXES,
    SHANDONG_CITIES,
    clean,
    community_aliases,
    street_aliases,
    usable_stem,
)

# priority of a key's source: a stronger source replaces a weaker one for the same key
P_DIVISION, P_GAZETTEER, P_BUILTIN_OUT, P_STEM = 4, 3, 2, 1
_NOT_PLACE_AFTER = ROAD_SUFFIXES + ("村", "庄", "小区", "花园", "社区", "新村", "家园", "商城")


@dataclass(frozen=True, slots=True)
class Sense:
    kind: str  # street | community | place | special | district | outside
    street: str | None = None
    community: str | None = None
    grid_id: str | None = None  # a basic grid named by the gazetteer
    special: str | None = None  # a special grid (school, market) by its name
    weight: float = 2.0
    conf: float = 0.9
    check_suffix: bool = False  # built-in outside name: skip when it starts a road name


class Match(NamedTuple):
    key: str
    start: int
    senses: tuple[Sense, ...]


class Resolution(NamedTuple):
    level: str  # grid | community | street | district | outside | unlocated
    street: str | None
    community: str | None
    grid_id: str | None
    special_ids: tuple[str, ...]
    confidence: float
    matched: tuple[str, ...]


UNLOCATED = Resolution("unlocated", None, None, None, (), 0.0, ())


class TextMatcher:
    def __init__(
        self,
        hierarchy: Hierarchy,
        entries: list[Entry] = (),
        special_grids: list[tuple[str, str, str | None, str | None]] = (),
        block_stems: frozenset[str] | set[str] = BLOCK_STEMS,
        district_aliases: tuple[str, ...] = (),
    ) -> None:
        self.hierarchy = hierarchy
        self.district = hierarchy.district
        keys: dict[str, tuple[int, list[Sense]]] = {}

        def add(key: str, sense: Sense, prio: int) -> None:
            key = clean(key)
            if len(key) < 2:
                return
            cur = keys.get(key)
            if cur is None or prio > cur[0]:
                keys[key] = (prio, [sense])
            elif prio == cur[0] and sense not in cur[1]:
                cur[1].append(sense)

        # the district itself
        d = hierarchy.district
        d_stem = d[:-1] if d.endswith(("区", "县", "市")) else d
        for k in {d, d_stem, hierarchy.city + d, *district_aliases}:
            add(k, Sense("district", weight=0.0, conf=0.6), P_DIVISION)
        # built-in "elsewhere" names
        for k in JINAN_OTHER_DISTRICTS:
            add(k, Sense("outside", conf=0.85), P_BUILTIN_OUT)
        for k in SHANDONG_CITIES + OTHER_CITIES + OTHER_PROVINCES:
            add(k, Sense("outside", conf=0.7, check_suffix=True), P_BUILTIN_OUT)
        # streets and communities
        for st in hierarchy.streets.values():
            full, stem = street_aliases(st.name)
            for k in [*full, st.raw]:
                add(k, Sense("street", st.name, weight=2.0, conf=0.9), P_DIVISION)
            if stem and len(stem) >= 2 and stem not in block_stems:
                add(stem, Sense("street", st.name, weight=1.0, conf=0.7), P_STEM)
            for c in st.communities:
                full_c, stem_c = community_aliases(c.name, c.raw)
                for k in full_c:
                    add(k, Sense("community", st.name, c.name, weight=2.0, conf=0.9), P_DIVISION)
                if usable_stem(stem_c, block_stems):
                    add(stem_c, Sense("community", st.name, c.name, weight=1.0, conf=0.65), P_STEM)
        # special grids by name (a school's grid), then the gazetteer
        for gid, name, street, community in special_grids:
            if name and len(clean(name)) >= 4:
                add(
                    name,
                    Sense("special", street, community, special=gid, weight=1.5, conf=0.85),
                    P_GAZETTEER,
                )
        for e in entries:
            if e.outside:
                sense = Sense("outside", conf=0.85)
            else:
                sense = Sense(
                    "place", e.street, e.community, grid_id=e.grid_id, weight=1.5, conf=0.8
                )
            for k in e.names():
                add(k, sense, P_GAZETTEER)
        self.automaton = ahocorasick.Automaton()
        for key, (_prio, senses) in keys.items():
            self.automaton.add_word(key, (key, tuple(senses)))
        self.size = len(keys)
        if keys:
            self.automaton.make_automaton()

    # ---- matching ---------------------------------------------------------------------------

    def find(self, text: str) -> list[Match]:
        if not text or not self.size:
            return []
        text = clean(text)
        out: list[Match] = []
        n = len(text)
        for end, (key, senses) in self.automaton.iter_long(text):
            start = end - len(key) + 1
            if (
                senses[0].check_suffix
                and end + 1 < n
                and text.startswith(_NOT_PLACE_AFTER, end + 1)
            ):
                continue
            out.append(Match(key, start, senses))
        return out

    # ---- deciding ---------------------------------------------------------------------------

    def resolve(self, groups: list[tuple[list[Match], float]]) -> Resolution:
        """Combine matches from several fields; ``groups`` = [(matches, weight multiplier)]."""
        street_score: dict[str, float] = defaultdict(float)
        street_conf: dict[str, float] = defaultdict(float)
        located: list[tuple[Sense, float]] = []
        outside: list[tuple[str, float]] = []
        district_hit = False
        matched: list[str] = []
        strong_in = False
        unique_in = False  # some match names exactly one street
        for matches, mult in groups:
            for m in matches:
                matched.append(m.key)
                first = m.senses[0]
                if first.kind == "outside":
                    outside.append((m.key, first.conf))
                    continue
                if first.kind == "district":
                    district_hit = True
                    continue
                with_street = [s for s in m.senses if s.street]
                if not with_street:
                    district_hit = True  # an in-district place without a street (a long road)
                    continue
                for s in with_street:
                    street_score[s.street] += s.weight * mult
                    street_conf[s.street] = max(street_conf[s.street], s.conf)
                    located.append((s, mult))
                    if len(with_street) == 1:
                        unique_in = True
                        strong_in = strong_in or s.weight >= 1.5
        matched_t = tuple(dict.fromkeys(matched))
        if street_score and (strong_in or not outside):
            ranked = sorted(street_score.items(), key=lambda kv: -kv[1])
            top_street, top = ranked[0]
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            if top - second < 1.0:
                if not unique_in and not district_hit:
                    # only names that exist in several streets (苏家庄村): nothing to go on
                    return Resolution("unlocated", None, None, None, (), 0.0, matched_t)
                return Resolution("district", None, None, None, (), 0.5, matched_t)
            conf = street_conf[top_street]
            if second:
                conf *= top / (top + second)
            return self._refine(top_street, conf, located, matched_t)
        if outside:
            return Resolution(
                "outside", None, None, None, (), max(c for _, c in outside), matched_t
            )
        if district_hit or street_score:
            return Resolution("district", None, None, None, (), 0.6, matched_t)
        return Resolution("unlocated", None, None, None, (), 0.0, matched_t)

    def _refine(
        self,
        street: str,
        conf: float,
        located: list[tuple[Sense, float]],
        matched: tuple[str, ...],
    ) -> Resolution:
        comm_score: dict[str, float] = defaultdict(float)
        comm_conf: dict[str, float] = defaultdict(float)
        grids: dict[str, float] = defaultdict(float)
        specials: list[str] = []
        for s, mult in located:
            if s.street != street:
                continue
            if s.community:
                comm_score[s.community] += s.weight * mult
                comm_conf[s.community] = max(comm_conf[s.community], s.conf)
            if s.grid_id:
                grids[s.grid_id] += s.weight * mult
            if s.special and s.special not in specials:
                specials.append(s.special)
        community = None
        if comm_score:
            ranked = sorted(comm_score.items(), key=lambda kv: -kv[1])
            if len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= 1.0:
                community = ranked[0][0]
                conf = min(conf, comm_conf[community]) if comm_conf[community] < conf else conf
        grid_id = None
        if len(grids) == 1:
            grid_id = next(iter(grids))
        level = "grid" if grid_id else ("community" if community else "street")
        return Resolution(
            level, street, community, grid_id, tuple(specials), round(conf, 3), matched
        )

    def tag(self, text: str) -> Resolution:
        return self.resolve([(self.find(text), 1.0)])

    def outside_only(self, text: str) -> bool:
        """True when ``text`` (an author's stated location) names somewhere outside the area."""
        matches = self.find(text)
        return any(m.senses[0].kind == "outside" for m in matches) and not any(
            m.senses[0].kind in ("district", "street", "community", "place", "special")
            for m in matches
        )
