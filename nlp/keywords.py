"""Keywords of a post: governance phrases first, then content words by frequency × weight.

Word segmentation splits the phrases officers search for (消防通道 → 消防/通道, 七里堡社区 →
七里堡/社区) and glues place names to neighbours (村祥泰, 城门口). A phrase list — the category
and risk lexicons plus the district's street and community names — is matched first (longest
match, Aho-Corasick); segmented words inside a matched phrase are then skipped.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache
from pathlib import Path

import ahocorasick
import yaml

from nlp.segment import tagged

_ROOT = Path(__file__).resolve().parent.parent
_STOPWORDS_FILE = _ROOT / "data" / "dict" / "stopwords.txt"
_CATEGORY_LEXICON = _ROOT / "data" / "lexicons" / "category_v1.yaml"
_RISK_LEXICON = _ROOT / "data" / "lexicons" / "risk_v1.yaml"
_DIVISIONS = _ROOT / "data" / "geo" / "licheng_divisions.csv"
_KEEP_TAGS = ("n", "v", "a", "vn", "nz", "ns", "nt", "nr", "an", "l", "i", "eng")
_ADMIN_SUFFIXES = ("社区居民委员会", "居民委员会", "村民委员会", "居委会", "村委会")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    if not _STOPWORDS_FILE.exists():
        return frozenset()
    words = set()
    for line in _STOPWORDS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line)
    return frozenset(words)


def _lexicon_words(path: Path) -> set[str]:
    if not path.exists():
        return set()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: set[str] = set()
    for words in (data.get("categories") or {}).values():  # category lexicon
        out.update(str(w) for w in words or [])
    for levels in (data.get("kinds") or {}).values():  # risk lexicon: the critical words
        spec = (levels or {}).get("critical") or {}
        out.update(str(w) for w in spec.get("words") or [])
    return out


def _division_names() -> set[str]:
    if not _DIVISIONS.exists():
        return set()
    out: set[str] = set()
    with _DIVISIONS.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row.get("name") or ""
            if row.get("level") == "community":
                for suffix in _ADMIN_SUFFIXES:
                    if name.endswith(suffix):
                        name = name[: -len(suffix)] + ("社区" if suffix.startswith("社区") else "")
                        break
            if len(name) >= 2:
                out.add(name)
    return out


@lru_cache(maxsize=1)
def _phrases() -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    stop = stopwords()
    for w in _lexicon_words(_CATEGORY_LEXICON) | _lexicon_words(_RISK_LEXICON) | _division_names():
        if len(w) >= 2 and w not in stop and not w.isdigit():
            auto.add_word(w, w)
    auto.make_automaton()
    return auto


def extract_keywords(text: str, top: int = 8) -> list[str]:
    text = text[:5000]
    stop = stopwords()
    counts: Counter[str] = Counter()
    first_pos: dict[str, int] = {}
    phrases: list[str] = []
    for end, phrase in _phrases().iter_long(text):
        counts[phrase] += 2.0
        first_pos.setdefault(phrase, end - len(phrase) + 1)
        phrases.append(phrase)
    offset = len(text)  # segmented words rank after phrases at the same weight
    for i, (word, tag) in enumerate(tagged(text)):
        w = word.lower()
        if len(w) < 2 or w in stop or w.isdigit():
            continue
        if not tag.startswith(_KEEP_TAGS) or any(w in p for p in phrases):
            continue
        weight = 1.5 if tag.startswith(("n", "vn", "ns", "nt", "nz")) else 1.0
        for p in dict.fromkeys(phrases):  # a longer word beats its phrase: 公交线路 > 公交
            if p in w and p != w and p in counts:
                weight += counts.pop(p)
                first_pos.setdefault(w, first_pos[p])
        counts[w] += weight
        first_pos.setdefault(w, offset + i)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], first_pos[kv[0]]))
    return [w for w, _ in ranked[:top]]
