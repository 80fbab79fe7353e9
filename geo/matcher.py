"""Place names in text: one Aho-Corasick automaton, leftmost-longest matches, then a vote.

Every name (street and community names with their official and short forms, gazetteer entries,
special-grid names, the district's own name, and names meaning "elsewhere") is one key; the
longest match wins, so 华山街道 beats 华山, 上海花园社区 beats 上海 and 济南东站 beats nothing.
Matches vote for streets; a community name found in several streets votes for each of them, so
a street named in the same post settles it (董家街道苏家庄村) and a lone ambiguous name places
nothing. Conflicting streets without a clear winner give the district only: an honest
"somewhere in 历城" beats sending an alert to the wrong street.

Streets outside the grid centre's area (``geo.excluded_streets``: 仲宫/柳埠/西营, run by 南部山区)
and the names of that area (``geo.excluded_area_names``) all vote for one "outside" bucket: a
post whose winning street is one of them is ``outside``; a village name shared with a grid-centre
street stays ambiguous unless a street (or 南部山区) is named.

Bare stems that are also ordinary words (华山, 董家, 新里程; ``names.CONTEXT_STEMS``) and area
stems of communities (七里堡南北社区 → 七里堡) count only next to a place context (华山这边, 在唐王,
董家一带; ``names.has_place_context``), never after a surname (张全福), or when another name
already puts the post in that street. Gazetteer entries of kind ``not_place`` (郭店楚简, 开启新里程)
are matched as whole words and dropped, so the name inside them places nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

from geo.gazetteer import Entry
from geo.hierarchy import Hierarchy
from geo.names import (
    CONTEXT_STEMS,
    JINAN_OTHER_DISTRICTS,
    NEVER_STEMS,
    OTHER_CITIES,
    OTHER_PROVINCES,
    ROAD_SUFFIXES,
    SHANDONG_CITIES,
    area_stem,
    clean,
    community_aliases,
    has_place_context,
    looks_like_person,
    street_aliases,
    usable_stem,
)

# priority of a key's source: a stronger source replaces a weaker one for the same key
P_NOT_PLACE, P_DIVISION, P_GAZETTEER, P_BUILTIN_OUT, P_STEM = 5, 4, 3, 2, 1
# how find() treats a key (from its first sense)
M_PLAIN, M_SUFFIX, M_CONTEXT, M_SKIP = 0, 1, 2, 3
OUT = "\0outside"  # the vote bucket of the streets outside the grid area
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
    context: bool = False  # an ambiguous stem: needs a place context or support (see module doc)
    area_out: bool = False  # a street outside the grid area (or that area's name)

    vote: str | None = None  # the street it votes for (OUT for area_out); set on creation

    def __post_init__(self) -> None:
        object.__setattr__(self, "vote", OUT if self.area_out else self.street)


class Match(NamedTuple):
    key: str
    start: int
    senses: tuple[Sense, ...]
    conditional: bool = False  # an ambiguous stem without context: counts only with support


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
        block_stems: frozenset[str] | set[str] = NEVER_STEMS,
        district_aliases: tuple[str, ...] = (),
        context_stems: frozenset[str] | set[str] = CONTEXT_STEMS,
        outside_areas: tuple[str, ...] = ("南部山区",),
    ) -> None:
        self.hierarchy = hierarchy
        self.district = hierarchy.district
        keys: dict[str, tuple[int, list[Sense]]] = {}
        excluded = {st.name for st in hierarchy.streets.values() if not st.in_grid_area}

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
        for k in outside_areas:
            add(k, Sense("street", k, weight=2.0, conf=0.85, area_out=True), P_DIVISION)
        # streets and communities
        area_stems: dict[str, list[Sense]] = defaultdict(list)
        for st in hierarchy.streets.values():
            out = st.name in excluded
            full, stem = street_aliases(st.name)
            for k in [*full, st.raw]:
                add(k, Sense("street", st.name, weight=2.0, conf=0.9, area_out=out), P_DIVISION)
            if stem and len(stem) >= 2 and stem not in block_stems:
                ctx = stem in context_stems
                add(
                    stem,
                    Sense("street", st.name, weight=1.0, conf=0.7, context=ctx, area_out=out),
                    P_STEM,
                )
            for c in st.communities:
                full_c, stem_c = community_aliases(c.name, c.raw)
                for k in full_c:
                    sense = Sense("community", st.name, c.name, weight=2.0, conf=0.9, area_out=out)
                    add(k, sense, P_DIVISION)
                if usable_stem(stem_c, block_stems):
                    ctx = stem_c in context_stems
                    sense = Sense(
                        "community",
                        st.name,
                        c.name,
                        weight=1.0,
                        conf=0.65,
                        context=ctx,
                        area_out=out,
                    )
                    add(stem_c, sense, P_STEM)
                short = area_stem(stem_c)
                if short and short not in block_stems:
                    area_stems[short].append(
                        Sense(
                            "community",
                            st.name,
                            c.name,
                            weight=1.0,
                            conf=0.6,
                            context=True,
                            area_out=out,
                        )
                    )
        # special grids by name (a school's grid), then the gazetteer
        for gid, name, street, community in special_grids:
            if name and len(clean(name)) >= 4:
                add(
                    name,
                    Sense("special", street, community, special=gid, weight=1.5, conf=0.85),
                    P_GAZETTEER,
                )
        for e in entries:
            prio = P_GAZETTEER
            if e.outside:
                sense = Sense("outside", conf=0.85)
            elif e.not_place:
                sense, prio = Sense("none", weight=0.0, conf=0.0), P_NOT_PLACE
            else:
                sense = Sense(
                    "place",
                    e.street,
                    e.community,
                    grid_id=e.grid_id,
                    weight=1.5,
                    conf=0.8,
                    area_out=e.street in excluded,
                )
            for k in e.names():
                add(k, sense, prio)
        # 七里堡 (from 七里堡南北社区) only where no other name is spelt so
        for short, senses in area_stems.items():
            if clean(short) not in keys:
                keys[clean(short)] = (P_STEM, senses)
        self.automaton = ahocorasick.Automaton()
        for key, (_prio, senses) in keys.items():
            first = senses[0]
            mode = (
                M_SKIP
                if first.kind == "none"
                else M_CONTEXT
                if first.context
                else M_SUFFIX
                if first.check_suffix
                else M_PLAIN
            )
            self.automaton.add_word(key, (key, tuple(senses), mode))
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
        for end, (key, senses, mode) in self.automaton.iter_long(text):
            start = end - len(key) + 1
            if not mode:
                out.append(Match(key, start, senses))
            elif mode == M_CONTEXT:
                if looks_like_person(text, start, end + 1):
                    continue
                out.append(Match(key, start, senses, not has_place_context(text, start, end + 1)))
            elif mode == M_SUFFIX:
                if end + 1 < n and text.startswith(_NOT_PLACE_AFTER, end + 1):
                    continue
                out.append(Match(key, start, senses))
            # M_SKIP: a not_place phrase (郭店楚简) swallows the name inside it
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
        unique_in = False  # some match names exactly one street (or only the outside area)
        conditional: list[tuple[Match, float]] = []
        for matches, mult in groups:
            for m in matches:
                if m.conditional:
                    conditional.append((m, mult))
                    continue
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
                if len(with_street) == 1:  # the common case, kept fast
                    s = with_street[0]
                    v = s.vote
                    located.append((s, mult))
                    street_score[v] += s.weight * mult
                    if s.conf > street_conf[v]:
                        street_conf[v] = s.conf
                    unique_in = True
                    strong_in = strong_in or s.weight >= 1.5
                    continue
                votes = {s.vote for s in with_street}
                unique = len(votes) == 1
                for s in with_street:
                    located.append((s, mult))
                    v = s.vote
                    if v in votes:  # one vote per street (or the outside bucket) per match
                        votes.discard(v)
                        street_score[v] += s.weight * mult
                    street_conf[v] = max(street_conf[v], s.conf)
                    if unique:
                        unique_in = True
                        strong_in = strong_in or s.weight >= 1.5
        if conditional and street_score:
            # an ambiguous stem without context (华山) only adds to a street already named
            for m, mult in conditional:
                senses = [s for s in m.senses if s.street and s.vote in street_score]
                if senses:
                    matched.append(m.key)
                    for s in senses:
                        located.append((s, mult))
                    street_score[senses[0].vote] += senses[0].weight * mult
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
            if top_street == OUT:  # 仲宫街道…, 南部山区…: not the grid centre's area
                return Resolution("outside", None, None, None, (), round(conf, 3), matched_t)
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
        return self.tag(text).level == "outside"
