"""Train and evaluate the governance category classifier (task ``category``).

Model: character 1–2-gram TF-IDF + segmented-word TF-IDF + the category lexicon's counts
(log-scaled, L2-normalised, small weight) + linear SVM (:class:`nlp.textclf.TextClassifier`).
The configuration is chosen by 5-fold cross-validation on train + dev, the softmax temperature
is the median of the folds' and the final model is fitted on train + dev. The test split is
only ever read by :func:`evaluate`.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from enrich.config import DEFAULT_TAXONOMY
from nlp.category import category_features
from nlp.metrics import classification_metrics
from nlp.tasks import TaskError, load_examples
from nlp.textclf import ModelLoadError, TextClassifier, resolve_model_dir

label_field = "category"
# (kind, char n-gram max, C, word weight, lexicon weight): chosen by 5-fold cross-validation on
# train + dev. Measured and left out (README): char 1-3-grams, logistic regression and an
# SVM + LR average, balanced class weights, frozen char-BERT embeddings (≈ +0.3 points for
# ~20 ms a post on CPU).
GRID = (
    ("svm", 2, 0.5, 0.0, 0.0),
    ("svm", 2, 0.5, 0.5, 0.1),
    ("svm", 2, 0.7, 0.5, 0.1),
    ("svm", 2, 0.5, 0.5, 0.2),
)


def _texts(recs: list[dict[str, Any]]) -> list[str]:
    return [f"{r['title']}\n{r['text']}" if r.get("title") else r["text"] for r in recs]


def _extras(texts: list[str], lexicon: bool) -> list[dict[str, float]] | None:
    return [category_features(t) for t in texts] if lexicon else None


def _fit(recs, kind: str, ngram: int, C: float, word: float, lex: float, seed: int):
    texts = _texts(recs)
    model = TextClassifier(
        kind=kind,
        ngram_max=ngram,
        C=C,
        class_weight=None,
        word_weight=word,
        extra_weight=lex,
        extra_norm=True,
    )
    return model.fit(texts, [r[label_field] for r in recs], _extras(texts, lex > 0), seed=seed)


def _predict(model: TextClassifier, recs, lexicon: bool) -> tuple[list[str], list[float]]:
    texts = _texts(recs)
    proba = model.predict_proba(texts, _extras(texts, lexicon))
    classes = model.classes
    return [classes[int(row.argmax())] for row in proba], [float(row.max()) for row in proba]


def _labels(*recsets) -> list[str]:
    seen = {r[label_field] for recs in recsets for r in recs}
    return [k for k in DEFAULT_TAXONOMY if k in seen] + sorted(seen - set(DEFAULT_TAXONOMY))


def _cv(recs, cfg: tuple, seed: int, folds: int = 5) -> tuple[float, float]:
    """(cross-validated accuracy, median softmax temperature fitted on the held-out folds)."""
    rng = random.Random(seed)
    order = list(range(len(recs)))
    rng.shuffle(order)
    correct, temps = 0, []
    lexicon = cfg[4] > 0
    for k in range(folds):
        held = set(order[k::folds])
        tr = [r for i, r in enumerate(recs) if i not in held]
        te = [r for i, r in enumerate(recs) if i in held]
        model = _fit(tr, *cfg, seed)
        pred, _ = _predict(model, te, lexicon)
        correct += sum(p == r[label_field] for p, r in zip(pred, te, strict=True))
        te_texts = _texts(te)
        temps.append(
            model.calibrate(te_texts, [r[label_field] for r in te], _extras(te_texts, lexicon))
        )
    return round(correct / len(recs), 4), float(sorted(temps)[len(temps) // 2])


def train(
    train_path: str | Path,
    dev_path: str | Path,
    out_dir: str | Path,
    base: str | None = None,
    seed: int = 13,
    time_budget_s: float | None = None,
    taxonomy: dict[str, str] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Pick the configuration by cross-validation on train + dev, fit on both, write the dir."""
    if base:
        raise TaskError("the category model trains from scratch; --base is not supported")
    taxonomy = taxonomy or DEFAULT_TAXONOMY
    tr = load_examples(train_path, label_field, list(taxonomy))
    for extra in kw.get("extra_paths") or []:  # analyst labels exported from the service
        tr += load_examples(extra, label_field, list(taxonomy))
    if dev_path is None:
        raise TaskError("the category task needs a dev split (--dev)")
    dev = load_examples(dev_path, label_field, list(taxonomy))
    start = time.monotonic()
    both = tr + dev
    grid = []
    for cfg in GRID:
        if time_budget_s and grid and time.monotonic() - start > time_budget_s:
            break
        acc, temp = _cv(both, cfg, seed)
        kind, ngram, C, word, lex = cfg
        grid.append(
            {
                "kind": kind,
                "ngram_max": ngram,
                "C": C,
                "word_weight": word,
                "lexicon_weight": lex,
                "cv_accuracy": acc,
                "temperature": temp,
            }
        )
    best = max(grid, key=lambda g: g["cv_accuracy"])
    cfg = (best["kind"], best["ngram_max"], best["C"], best["word_weight"], best["lexicon_weight"])
    lexicon = best["lexicon_weight"] > 0
    model = _fit(both, *cfg, seed)
    model.temperature = best["temperature"]
    pred, _ = _predict(model, dev, lexicon)
    dev_metrics = classification_metrics([r[label_field] for r in dev], pred, _labels(tr, dev))
    out = Path(out_dir)
    version = out.name
    meta = {
        "task": "category",
        "version": version,
        "model": f"char 1-{best['ngram_max']}-gram TF-IDF"
        + (f" + word TF-IDF ×{best['word_weight']}" if best["word_weight"] else "")
        + (f" + category lexicon ×{best['lexicon_weight']}" if lexicon else "")
        + " + "
        + ("linear SVM (softmax-calibrated)" if best["kind"] == "svm" else "logistic regression"),
        "kind": best["kind"],
        "C": best["C"],
        "word_weight": best["word_weight"],
        "lexicon_weight": best["lexicon_weight"],
        "temperature": model.temperature,
        "lexicon_features": lexicon,
        "taxonomy": dict(taxonomy),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": seed,
    }
    model.save(out, meta)
    metrics = {
        "task": "category",
        "version": version,
        "train": {"path": str(train_path), "n": len(tr)},
        "dev": {"path": str(dev_path), "seen_in_training": True, **dev_metrics},
        "cv_accuracy_train_dev": best["cv_accuracy"],
        "grid": grid,
        "train_seconds": round(time.monotonic() - start, 1),
    }
    if kw.get("test_path"):  # evaluation only: nothing above looked at it
        metrics["test"] = evaluate(out, kw["test_path"])
    (out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(_model_card(meta, metrics), encoding="utf-8")
    return metrics


def evaluate(model_dir: str | Path, data_path: str | Path) -> dict[str, Any]:
    try:
        model, meta = TextClassifier.load(resolve_model_dir(model_dir))
    except ModelLoadError as exc:
        raise TaskError(str(exc)) from None
    recs = load_examples(data_path, label_field)
    pred, _ = _predict(model, recs, bool(meta.get("lexicon_features")))
    labels = list(model.classes)
    labels += sorted({r[label_field] for r in recs} - set(labels))
    m = classification_metrics([r[label_field] for r in recs], pred, labels)
    m["model_version"] = meta.get("version")
    m["data"] = str(data_path)
    return m


def _model_card(meta: dict[str, Any], metrics: dict[str, Any]) -> str:
    dev = metrics["dev"]
    rows = "\n".join(
        f"| {g['kind']} | 1-{g['ngram_max']} | {g['C']} | {g['word_weight']} | "
        f"{g['lexicon_weight']} | {g['cv_accuracy']:.4f} |"
        for g in metrics["grid"]
    )
    return f"""# Category model {meta["version"]}

Governance category of a post ({len(meta["taxonomy"])} classes, default taxonomy of yuqing).

- Model: {meta["model"]}; C={meta["C"]}; softmax temperature {meta["temperature"]};
  category lexicon features: {meta["lexicon_features"]} (log-scaled, L2-normalised).
- Data: `{metrics["train"]["path"]}` ({metrics["train"]["n"]} posts, in-domain, hand-written
  synthetic governance posts labelled per `data/labelled/GUIDELINES.md`) + dev `{dev["path"]}`
  ({dev["n"]}); the final model is fitted on both.
- 5-fold cross-validated accuracy on train + dev: {metrics["cv_accuracy_train_dev"]:.4f}
  (dev accuracy {dev["accuracy"]:.4f} is on posts the final model saw).
  Test: {_test_line(metrics)} (`yuqing eval category`; the test split chose nothing here).
- Limits: trained on synthetic posts written for 历城区; real streams have categories and
  wording it has not seen. Check `yuqing eval category` on newly labelled posts before relying on it.

Model selection (5-fold cross-validation accuracy on train + dev):

| classifier | char n-grams | C | word weight | lexicon weight | CV accuracy |
|---|---|---|---|---|---|
{rows}
"""


def _test_line(metrics: dict[str, Any]) -> str:
    t = metrics.get("test")
    if not t:
        return "not evaluated at training time"
    return f"accuracy {t['accuracy']:.4f}, macro-F1 {t['macro_f1']:.4f} (n={t['n']})"
