"""Character n-gram TF-IDF + a linear classifier, with optional word TF-IDF and dict features.

Why this model: governance posts are short, full of place names, typos and 网络用语, and the
labelled set is small (hundreds per class); character 1–3-grams need no segmentation and a
linear model trains in seconds, predicts thousands of posts a second on one core, and can say
which n-grams drove a decision (used to explain model-only risk signals).

Optional blocks, each scaled by its own weight so that no block drowns the others: segmented
words (rjieba, ``word_weight``) and hand-made dict features (``extra_weight``). With
``extra_norm=True`` the dict features are log-scaled and L2-normalised per post like the TF-IDF
rows; raw counts next to unit-length TF-IDF rows dominate the margin (that is why the category
lexicon once cost accuracy).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

MODEL_FILE = "model.joblib"


class ModelLoadError(Exception):
    """A model directory is missing, incomplete or unreadable (one line, user-facing)."""


class TextClassifier:
    def __init__(
        self,
        ngram_max: int = 3,
        C: float = 8.0,
        max_features: int = 300_000,
        extra_weight: float = 1.0,
        class_weight: str | None = "balanced",
        max_chars: int = 2000,
        kind: str = "logreg",
        min_df: int = 1,
        word_weight: float = 0.0,
        extra_norm: bool = False,
    ) -> None:
        if kind not in ("logreg", "svm"):
            raise ValueError(f"kind must be logreg or svm, not {kind!r}")
        self.kind = kind
        self.temperature = 1.0  # svm: probabilities are softmax(decision × temperature)
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.C = C
        self.max_features = max_features
        self.extra_weight = extra_weight
        self.class_weight = class_weight
        self.max_chars = max_chars
        self.word_weight = word_weight
        self.extra_norm = extra_norm
        self.word_tfidf: TfidfVectorizer | None = None
        self.tfidf: TfidfVectorizer | None = None
        self.dv: DictVectorizer | None = None
        self.clf: LogisticRegression | LinearSVC | None = None

    @property
    def classes(self) -> list[str]:
        if self.clf is None:
            raise ModelLoadError("the classifier is not trained")
        return [str(c) for c in self.clf.classes_]

    def _clip(self, texts: Sequence[str]) -> list[str]:
        return [t[: self.max_chars] for t in texts]

    def _matrix(self, texts: Sequence[str], extras: Sequence[dict[str, float]] | None):
        assert self.tfidf is not None
        clipped = self._clip(texts)
        blocks = [self.tfidf.transform(clipped)]
        word_tfidf = getattr(self, "word_tfidf", None)  # absent in models saved before it existed
        if word_tfidf is not None:
            blocks.append(word_tfidf.transform(clipped) * self.word_weight)
        if self.dv is not None:
            e = self.dv.transform(list(extras) if extras is not None else [{} for _ in texts])
            if getattr(self, "extra_norm", False):
                e = normalize(e.log1p())
            blocks.append(e * self.extra_weight)
        return sp.hstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        extras: Sequence[dict[str, float]] | None = None,
        seed: int = 13,
    ) -> TextClassifier:
        self.tfidf = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, self.ngram_max),
            sublinear_tf=True,
            min_df=self.min_df,
            max_features=self.max_features,
            lowercase=True,
        )
        self.tfidf.fit(self._clip(texts))
        if self.word_weight > 0:
            self.word_tfidf = TfidfVectorizer(analyzer=_words, sublinear_tf=True, lowercase=False)
            self.word_tfidf.fit(self._clip(texts))
        if extras is not None:
            self.dv = DictVectorizer()
            self.dv.fit(list(extras))
        x = self._matrix(texts, extras)
        if self.kind == "svm":
            self.clf = LinearSVC(
                C=self.C, class_weight=self.class_weight, random_state=seed, max_iter=5000
            )
        else:
            self.clf = LogisticRegression(
                C=self.C, max_iter=3000, class_weight=self.class_weight, random_state=seed
            )
        self.clf.fit(x, list(labels))
        return self

    def calibrate(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        extras: Sequence[dict[str, float]] | None = None,
    ) -> float:
        """SVM only: pick the softmax temperature that minimises log-loss on held-out data."""
        if self.kind != "svm" or not texts:
            return self.temperature
        known = [i for i, lab in enumerate(labels) if lab in self.classes]
        if not known:  # held-out labels the model never saw say nothing about calibration
            return self.temperature
        texts = [texts[i] for i in known]
        extras = [extras[i] for i in known] if extras is not None else None
        d = self._decision(texts, extras)
        idx = np.array([self.classes.index(labels[i]) for i in known])
        best = (float("inf"), 1.0)
        for t in (0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24):
            p = _softmax(d * t)
            loss = -float(np.mean(np.log(p[np.arange(len(idx)), idx] + 1e-12)))
            best = min(best, (loss, float(t)))
        self.temperature = best[1]
        return self.temperature

    def _decision(self, texts, extras) -> np.ndarray:
        assert self.clf is not None
        d = self.clf.decision_function(self._matrix(texts, extras))
        if d.ndim == 1:  # binary: sklearn returns the positive class's margin only
            d = np.column_stack([-d, d])
        return d

    def predict_proba(
        self, texts: Sequence[str], extras: Sequence[dict[str, float]] | None = None
    ) -> np.ndarray:
        if self.clf is None:
            raise ModelLoadError("the classifier is not trained")
        if not texts:
            return np.zeros((0, len(self.classes)))
        if self.kind == "svm":
            return _softmax(self._decision(texts, extras) * self.temperature)
        return self.clf.predict_proba(self._matrix(texts, extras))

    def top_features(
        self, text: str, label: str, extra: dict[str, float] | None = None, k: int = 3
    ) -> list[str]:
        """The k features that pushed ``text`` most towards ``label`` (for explanations)."""
        assert self.clf is not None and self.tfidf is not None
        x = self._matrix([text], [extra or {}] if self.dv is not None else None).tocoo()
        idx = self.classes.index(label)
        if self.clf.coef_.shape[0] > 1:
            coef = self.clf.coef_[idx]
        else:  # binary: one row, for the second class
            coef = self.clf.coef_[0] if idx == 1 else -self.clf.coef_[0]
        names = getattr(self, "_names", None)
        if names is None:  # built once: get_feature_names_out copies the whole vocabulary
            names = list(self.tfidf.get_feature_names_out())
            if getattr(self, "word_tfidf", None) is not None:
                names += list(self.word_tfidf.get_feature_names_out())
            if self.dv is not None:
                names += list(self.dv.get_feature_names_out())
            self._names = names
        contrib = sorted(
            ((float(v * coef[j]), names[j]) for j, v in zip(x.col, x.data, strict=True)),
            reverse=True,
        )
        out: list[str] = []
        for c, name in contrib:
            if c <= 0 or len(out) >= k:
                break
            if name.strip() and not any(name in o for o in out):
                out.append(name.strip())
        return out

    # ---- persistence --------------------------------------------------------------------
    def save(self, out_dir: str | Path, meta: dict[str, Any]) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, out / MODEL_FILE, compress=3)
        meta = {
            **meta,
            "classes": self.classes,
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        }
        (out / "meta.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    @staticmethod
    def load(model_dir: str | Path) -> tuple[TextClassifier, dict[str, Any]]:
        d = Path(model_dir)
        f = d / MODEL_FILE
        if not f.exists():
            raise ModelLoadError(f"no {MODEL_FILE} in {d}")
        try:
            model = joblib.load(f)
            meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        except Exception as exc:  # corrupt file, incompatible pickle
            raise ModelLoadError(
                f"cannot load model from {d}: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(model, TextClassifier):
            raise ModelLoadError(f"{f} does not hold a TextClassifier")
        return model, meta


def _words(text: str) -> list[str]:
    """Word analyzer (module-level so a saved model pickles)."""
    from nlp.segment import words

    return words(text)


def _softmax(d: np.ndarray) -> np.ndarray:
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def resolve_model_dir(path: str | Path) -> Path:
    """A version directory, or a parent whose ``CURRENT`` file names the version to use.

    Relative paths are tried against the working directory, then the repository root, so the
    bundled models load from any working directory.
    """
    p = Path(path)
    candidates = [p] if p.is_absolute() else [p, Path(__file__).resolve().parent.parent / p]
    for c in candidates:
        if (c / MODEL_FILE).exists():
            return c
        current = c / "CURRENT"
        if current.exists():
            version = current.read_text(encoding="utf-8").strip()
            v = c / version
            if not version or not (v / MODEL_FILE).exists():
                raise ModelLoadError(f"{current} names {version!r}, which has no {MODEL_FILE}")
            return v
    raise ModelLoadError(f"no model at {path} (train one with `yuqing train`)")


def resolve_data_file(path: str | Path) -> Path:
    """Like :func:`resolve_model_dir` for bundled data files (lexicons)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    alt = Path(__file__).resolve().parent.parent / p
    return alt if alt.exists() else p
