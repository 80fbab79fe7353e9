"""The administrative hierarchy: district → streets (街道/镇) → communities (社区/村), with codes.

Seeded from the NBS 2023 division list (``data/geo/licheng_divisions.csv``: code, name, level,
parent_code). Names are normalised (…社区居民委员会 → …社区) and the same community name may
exist in several streets (苏家庄村 is in 荷花路, 王舍人 and 董家), so lookups return lists.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from geo.names import normalise_admin_name

BUNDLED_DIVISIONS = (
    Path(__file__).resolve().parent.parent / "data" / "geo" / "licheng_divisions.csv"
)


class HierarchyError(ValueError):
    """The divisions file is missing or malformed (one line naming the file and row)."""


@dataclass(frozen=True)
class Community:
    code: str
    name: str
    street: str
    raw: str


@dataclass
class Street:
    code: str
    name: str
    raw: str
    in_grid_area: bool = True
    communities: list[Community] = field(default_factory=list)


@dataclass
class Hierarchy:
    district: str
    district_code: str
    streets: dict[str, Street]
    city: str = "济南市"

    @property
    def communities(self) -> list[Community]:
        return [c for s in self.streets.values() for c in s.communities]

    def communities_named(self, name: str) -> list[Community]:
        return [c for c in self.communities if c.name == name]

    def has(self, street: str | None, community: str | None = None) -> bool:
        if street is None:
            return community is None or bool(self.communities_named(community))
        s = self.streets.get(street)
        if s is None:
            return False
        return community is None or any(c.name == community for c in s.communities)

    def add_names(self, pairs: list[tuple[str, str | None]]) -> None:
        """Add (street, community) names a grid layer uses that the division list lacks."""
        for street, community in pairs:
            if not street:
                continue
            s = self.streets.setdefault(street, Street(code="", name=street, raw=street))
            if community and not any(c.name == community for c in s.communities):
                s.communities.append(Community("", community, street, community))

    def as_dict(self) -> dict:
        return {
            "district": self.district,
            "district_code": self.district_code,
            "streets": [
                {
                    "name": s.name,
                    "code": s.code,
                    "in_grid_area": s.in_grid_area,
                    "communities": [{"name": c.name, "code": c.code} for c in s.communities],
                }
                for s in self.streets.values()
            ],
        }


def load_hierarchy(
    path: str | Path | None = None, excluded_streets: list[str] | tuple[str, ...] = ()
) -> Hierarchy:
    """Read the divisions CSV; ``excluded_streets`` stay known but are flagged not in the grid area."""
    p = Path(path) if path else BUNDLED_DIVISIONS
    if not p.exists():
        raise HierarchyError(f"divisions file not found: {p}")
    district = district_code = None
    streets: dict[str, Street] = {}
    by_code: dict[str, Street] = {}
    pending: list[tuple[int, dict[str, str]]] = []
    with p.open(encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"code", "name", "level", "parent_code"} - set(reader.fieldnames or [])
        if missing:
            raise HierarchyError(f"{p}: missing columns {', '.join(sorted(missing))}")
        for lineno, row in enumerate(reader, 2):
            level = (row.get("level") or "").strip()
            name = (row.get("name") or "").strip()
            code = (row.get("code") or "").strip()
            if not name or level not in ("district", "street", "community"):
                raise HierarchyError(
                    f"{p}:{lineno}: need a name and level district/street/community"
                )
            if level == "district":
                district, district_code = name, code
            elif level == "street":
                short = normalise_admin_name(name)
                st = Street(code, short, name, in_grid_area=short not in excluded_streets)
                streets[short] = st
                by_code[code] = st
            else:
                pending.append((lineno, row))
    for lineno, row in pending:
        st = by_code.get(row["parent_code"].strip())
        if st is None:
            raise HierarchyError(f"{p}:{lineno}: parent {row['parent_code']!r} is not a street")
        raw = row["name"].strip()
        st.communities.append(
            Community(row["code"].strip(), normalise_admin_name(raw), st.name, raw)
        )
    if district is None:
        raise HierarchyError(f"{p}: no district row")
    return Hierarchy(district=district, district_code=district_code or "", streets=streets)
