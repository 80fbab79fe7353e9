"""Keywords of a post: content words ranked by frequency × a governance-aware weight."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

from nlp.segment import tagged

_STOPWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "dict" / "stopwords.txt"
_KEEP_TAGS = ("n", "v", "a", "vn", "nz", "ns", "nt", "nr", "an", "l", "i", "eng")


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


def extract_keywords(text: str, top: int = 8) -> list[str]:
    stop = stopwords()
    counts: Counter[str] = Counter()
    first_pos: dict[str, int] = {}
    for i, (word, tag) in enumerate(tagged(text[:5000])):
        w = word.lower()
        if len(w) < 2 or w in stop or w.isdigit():
            continue
        if not tag.startswith(_KEEP_TAGS):
            continue
        weight = 1.5 if tag.startswith(("n", "vn", "ns", "nt", "nz")) else 1.0
        counts[w] += weight
        first_pos.setdefault(w, i)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], first_pos[kv[0]]))
    return [w for w, _ in ranked[:top]]
