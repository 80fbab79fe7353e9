"""The gazetteer: names that are not divisions (小区, roads, landmarks, schools, markets) → place.

A UTF-8 CSV with the header ``name,kind,street,community,grid_id,aliases,note``; ``aliases`` is
``|``-separated. An entry with kind ``outside`` marks a place beyond the district (奥体中心 is in
历下区). An in-district entry without a street (a road crossing several streets) places a post
at district level only. The bundled sample (``data/geo/gazetteer_sample.csv``) is loaded first,
then the deployment's own file (``geo.gazetteer`` under data_dir), whose entries win by name.

An entry with kind ``not_place`` is a phrase that contains a place name but is not a place
(郭店楚简, 开启新里程, 中国农科院): the matcher reads it as one word, so the name inside it never
places a post. The curated list ships in ``data/geo/non_places.csv`` and is always loaded first.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from geo.hierarchy import Hierarchy
from geo.names import clean

SAMPLE_GAZETTEER = Path(__file__).resolve().parent.parent / "data" / "geo" / "gazetteer_sample.csv"
NON_PLACES = SAMPLE_GAZETTEER.with_name("non_places.csv")
FIELDS = ("name", "kind", "street", "community", "grid_id", "aliases", "note")
KINDS = (
    "compound",
    "road",
    "landmark",
    "school",
    "market",
    "hospital",
    "station",
    "area",
    "enterprise",
    "outside",
    "not_place",
    "other",
)
_NO_PLACE_KINDS = ("outside", "not_place")


class GazetteerError(ValueError):
    """A bad gazetteer row or file (the message names the file and line)."""


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str = "other"
    street: str | None = None
    community: str | None = None
    grid_id: str | None = None
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def outside(self) -> bool:
        return self.kind == "outside"

    @property
    def not_place(self) -> bool:
        return self.kind == "not_place"

    def names(self) -> list[str]:
        return [self.name, *self.aliases]

    def as_row(self) -> dict[str, str]:
        d = asdict(self)
        d["aliases"] = "|".join(self.aliases)
        return {k: ("" if d[k] is None else str(d[k])) for k in FIELDS}


def make_entry(
    name: str,
    kind: str = "other",
    street: str | None = None,
    community: str | None = None,
    grid_id: str | None = None,
    aliases: list[str] | tuple[str, ...] | str = (),
    note: str = "",
    hierarchy: Hierarchy | None = None,
    where: str = "entry",
) -> Entry:
    """Validate one entry: known kind, a real street/community, no place on an outside entry."""
    name = clean(name or "")
    if len(name) < 2:
        raise GazetteerError(f"{where}: name must have at least 2 characters")
    kind = (kind or "other").strip()
    if kind not in KINDS:
        raise GazetteerError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if isinstance(aliases, str):
        aliases = [a for a in aliases.split("|")]
    alias_t = tuple(dict.fromkeys(clean(a) for a in aliases if clean(a) and clean(a) != name))
    street = (street or "").strip() or None
    community = (community or "").strip() or None
    grid_id = (grid_id or "").strip() or None
    if kind in _NO_PLACE_KINDS and (street or community or grid_id):
        what = "an outside place" if kind == "outside" else "a not_place phrase"
        raise GazetteerError(f"{where}: {what} cannot name a street, community or grid")
    if hierarchy is not None and kind not in _NO_PLACE_KINDS:
        if street and street not in hierarchy.streets:
            raise GazetteerError(f"{where}: unknown street {street!r}")
        if community and not hierarchy.has(street, community):
            where_s = f" in {street}" if street else ""
            raise GazetteerError(f"{where}: unknown community {community!r}{where_s}")
        if community and not street:
            owners = {c.street for c in hierarchy.communities_named(community)}
            if len(owners) != 1:
                raise GazetteerError(
                    f"{where}: community {community!r} is in several streets; name the street"
                )
            street = owners.pop()
    return Entry(name, kind, street, community, grid_id, alias_t, (note or "").strip())


def read_gazetteer(path: str | Path, hierarchy: Hierarchy | None = None) -> list[Entry]:
    p = Path(path)
    if not p.exists():
        raise GazetteerError(f"gazetteer file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise GazetteerError(f"{p}: not UTF-8 text") from None
    return parse_gazetteer(text, hierarchy, str(p))


def parse_gazetteer(text: str, hierarchy: Hierarchy | None, origin: str) -> list[Entry]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "name" not in reader.fieldnames:
        raise GazetteerError(f"{origin}: the first line must be a header naming at least 'name'")
    unknown = set(reader.fieldnames) - set(FIELDS)
    if unknown:
        raise GazetteerError(f"{origin}: unknown columns {', '.join(sorted(unknown))}")
    out: list[Entry] = []
    for lineno, row in enumerate(reader, 2):
        if not any((v or "").strip() for v in row.values()):
            continue
        out.append(
            make_entry(
                row.get("name") or "",
                row.get("kind") or "other",
                row.get("street"),
                row.get("community"),
                row.get("grid_id"),
                row.get("aliases") or "",
                row.get("note") or "",
                hierarchy=hierarchy,
                where=f"{origin}:{lineno}",
            )
        )
    return out


def write_gazetteer(path: str | Path, entries: list[Entry]) -> None:
    """Replace the file atomically (write a temp file, then rename over it)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".gazetteer-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS)
            w.writeheader()
            for e in sorted(entries, key=lambda e: e.name):
                w.writerow(e.as_row())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def bundled_non_places() -> list[Entry]:
    """The curated phrases that contain a place name but are not places."""
    return read_gazetteer(NON_PLACES) if NON_PLACES.exists() else []


def merge(base: list[Entry], override: list[Entry]) -> list[Entry]:
    by_name = {e.name: e for e in base}
    by_name.update({e.name: e for e in override})
    return list(by_name.values())
