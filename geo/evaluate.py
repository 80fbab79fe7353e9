"""Scoring the geotagger on labelled rows: accuracy per level and the wrong-placement rate.

A row is JSON with ``text`` and optionally ``title``, ``address``, ``author_location`` and
``coordinates`` ({lon, lat, crs}); expectations are ``expected_street``, ``expected_community``,
``expected_grid_id`` and ``expected_level`` (grid/community/street/district/outside/unlocated;
``street``/``community``/``grid_id``/``level`` without the prefix are accepted too).

A *wrong placement* is the harm that matters for alert routing: the post is put in a street,
community or grid other than the expected one, or put inside the area when it is outside or
unplaceable, or marked outside when it is inside. Saying less than the truth (district instead of
street, unlocated instead of a street) is a miss, not a wrong placement.

Village names are compared with a trailing 村村 read as 村: official names end in 村村民委员会
(卧牛山西村村民委员会), and a label cut at 委员会 gives 卧牛山西村村 for the village 卧牛山西村.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from core.schema import GEO_LEVELS, Geo
from geo.tagger import Geotagger

_RANK = {"grid": 4, "community": 3, "street": 2, "district": 1, "outside": 0, "unlocated": 0}


class EvalError(ValueError):
    pass


def norm_community(name: str | None) -> str | None:
    """卧牛山西村村 → 卧牛山西村 (a label cut from …村村民委员会); other names unchanged."""
    if name and name.endswith("村村"):
        return name[:-1]
    return name


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        raise EvalError(f"data file not found: {p}")
    rows = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise EvalError(f"{p}:{lineno}: expected an object with a 'text' string")
        for key in ("street", "community", "grid_id", "level"):
            if key in row and f"expected_{key}" not in row:
                row[f"expected_{key}"] = row[key]
        if row.get("expected_community"):
            row["expected_community"] = norm_community(row["expected_community"])
        level = row.get("expected_level")
        if level is None:
            level = (
                "grid"
                if row.get("expected_grid_id")
                else "community"
                if row.get("expected_community")
                else "street"
                if row.get("expected_street")
                else None
            )
            row["expected_level"] = level
        if level not in GEO_LEVELS:
            raise EvalError(f"{p}:{lineno}: expected_level must be one of {', '.join(GEO_LEVELS)}")
        row["_line"] = lineno
        rows.append(row)
    if not rows:
        raise EvalError(f"{p} holds no rows")
    return rows


def tag_row(tagger: Geotagger, row: dict[str, Any]) -> Geo:
    text = row["text"]
    if row.get("title") and row["title"] not in text:
        text = f"{row['title']}\n{text}"
    point = None
    c = row.get("coordinates")
    if isinstance(c, dict):
        point = tagger.locate_points([c["lon"]], [c["lat"]], c.get("crs", "wgs84"))[0]
    return tagger.tag_fields(
        text, row.get("address"), row.get("author_location"), point, has_point=point is not None
    )


def wrong(row: dict[str, Any], geo: Geo) -> str | None:
    """Why ``geo`` is a wrong placement for ``row`` (None when it is not)."""
    exp = row["expected_level"]
    placed = geo.level in ("grid", "community", "street")
    if exp == "outside":
        return (
            "placed inside an outside post" if geo.level not in ("outside", "unlocated") else None
        )
    if exp == "unlocated":
        return "placed an unplaceable post" if placed else None
    if geo.level == "outside":
        return "marked outside"
    for key, got in (
        ("street", geo.street),
        ("community", norm_community(geo.community)),
        ("grid_id", geo.grid_id),
    ):
        want = row.get(f"expected_{key}")
        if want and got and got != want:
            return f"{key} {got} ≠ {want}"
    if exp == "district" and placed:
        return None  # more precise than the label claims; not checkable
    return None


def evaluate(tagger: Geotagger, rows: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, list[int]] = {k: [0, 0] for k in ("grid_id", "community", "street", "level")}
    by_kind: Counter[str] = Counter()
    kind_ok: Counter[str] = Counter()
    named = [0, 0]
    wrongs: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for row in rows:
        geo = tag_row(tagger, row)
        ok_all = True
        for key in ("grid_id", "community", "street"):
            want = row.get(f"expected_{key}")
            if want:
                per[key][1] += 1
                got = getattr(geo, key)
                hit = (norm_community(got) if key == "community" else got) == want
                per[key][0] += hit
                ok_all &= hit
        exp_level = row["expected_level"]
        per["level"][1] += 1
        level_ok = geo.level == exp_level or (
            # finer than the label (a landmark's community): right as far as it can be checked
            exp_level in ("street", "community")
            and _RANK[geo.level] > _RANK[exp_level]
            and all(
                (norm_community(geo.community) if k == "community" else geo.street)
                == row[f"expected_{k}"]
                for k in ("street", "community")
                if row.get(f"expected_{k}")
            )
        )
        per["level"][0] += level_ok
        ok_all &= level_ok
        if row.get("expected_street") and row.get("kind", "named") in (
            "named",
            "address",
            "ambiguous",
        ):
            named[1] += 1
            named[0] += geo.street == row["expected_street"]
        kind = row.get("kind", "-")
        by_kind[kind] += 1
        kind_ok[kind] += ok_all
        why = wrong(row, geo)
        brief = {
            "line": row["_line"],
            "text": row["text"][:60],
            "expected": {k: row.get(f"expected_{k}") for k in ("level", "street", "community")},
            "got": {"level": geo.level, "street": geo.street, "community": geo.community},
            "matched": geo.matched[:6],
        }
        if why:
            wrongs.append({**brief, "why": why})
        elif not ok_all:
            misses.append(brief)
    n = len(rows)

    def acc(pair: list[int]) -> float | None:
        return round(pair[0] / pair[1], 4) if pair[1] else None

    return {
        "rows": n,
        "accuracy": {k: {"accuracy": acc(v), "n": v[1]} for k, v in per.items()},
        "street_accuracy_named": {"accuracy": acc(named), "n": named[1]},
        "wrong_placements": len(wrongs),
        "wrong_placement_rate": round(len(wrongs) / n, 4),
        "by_kind": {k: {"n": by_kind[k], "all_correct": kind_ok[k]} for k in sorted(by_kind)},
        "wrong": wrongs,
        "misses": misses,
    }
