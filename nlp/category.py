"""Governance category: the trained classifier and its lexicon features.

The lexicon (``data/lexicons/category_v1.yaml``) adds, per category, how many of its domain
words a post contains; the classifier decides (see :mod:`nlp.category_train` for how much the
lexicon helps, measured on dev).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick
import yaml

from nlp.textclf import TextClassifier, resolve_data_file, resolve_model_dir

LEXICON_FILE = "data/lexicons/category_v1.yaml"


@lru_cache(maxsize=1)
def _automaton() -> ahocorasick.Automaton:
    path = resolve_data_file(LEXICON_FILE)
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    auto = ahocorasick.Automaton()
    for cat, words in (data.get("categories") or {}).items():
        for w in words or []:
            w = str(w)
            prev = auto.get(w, ())
            auto.add_word(w, (*prev, str(cat)))
    auto.make_automaton()
    return auto


def category_features(text: str) -> dict[str, float]:
    """Counts of lexicon words per category (``lex=<category>``)."""
    f: dict[str, float] = {}
    for _, cats in _automaton().iter(text[:5000]):
        for c in cats:
            f[f"lex={c}"] = f.get(f"lex={c}", 0.0) + 1.0
    return f


@dataclass
class Prediction:
    label: str
    score: float


class CategoryModel:
    """A trained category classifier loaded from a model directory."""

    def __init__(self, model: TextClassifier, meta: dict) -> None:
        self.model = model
        self.meta = meta
        self.version = str(meta.get("version") or "unknown")
        self.lexicon_features = bool(meta.get("lexicon_features"))

    @classmethod
    def load(cls, model_dir: str | Path) -> CategoryModel:
        model, meta = TextClassifier.load(resolve_model_dir(model_dir))
        return cls(model, meta)

    @property
    def labels(self) -> list[str]:
        return self.model.classes

    def predict(self, texts: list[str]) -> list[Prediction]:
        extras = [category_features(t) for t in texts] if self.lexicon_features else None
        proba = self.model.predict_proba(texts, extras)
        classes = self.model.classes
        out = []
        for row in proba:
            i = int(row.argmax())
            out.append(Prediction(classes[i], round(float(row[i]), 4)))
        return out
