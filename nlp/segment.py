"""Chinese word segmentation shared by every backend, so tokens are identical everywhere.

Index with ``cut_for_search`` (emits sub-words too) and query in precise mode: a query word
then always finds the indexed forms (≈99.9% of occurrences, see the research notes).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import rjieba

_WORD = re.compile(r"\w+", re.UNICODE)
_USER_DICT = Path(__file__).resolve().parent.parent / "data" / "dict" / "user_words.txt"


@lru_cache(maxsize=1)
def _load_user_words() -> int:
    n = 0
    if _USER_DICT.exists():
        for line in _USER_DICT.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            rjieba.add_word(parts[0], freq, None)
            n += 1
    return n


def _clean(tokens: list[str]) -> list[str]:
    # rjieba keeps punctuation and mixed tokens: keep only word characters, lower-cased. One
    # regex pass over the tokens joined by a non-word separator gives the same pieces as one
    # pass per token (matches cannot cross the separator) at a fraction of the cost.
    return [p for p in _WORD.findall("\x00".join(tokens).lower()) if p.strip("_")]


def index_tokens(text: str) -> list[str]:
    _load_user_words()
    return _clean(rjieba.cut_for_search(text))


def query_tokens(text: str) -> list[str]:
    _load_user_words()
    return _clean(rjieba.cut(text))


def words(text: str) -> list[str]:
    """Precise-mode words with punctuation removed (for keywords, features)."""
    return query_tokens(text)


def tagged(text: str) -> list[tuple[str, str]]:
    _load_user_words()
    return [(w, t) for w, t in rjieba.tag(text) if _WORD.search(w)]
