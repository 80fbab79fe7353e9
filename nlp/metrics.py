"""Classification metrics shared by every trainable task (sentiment, category, ...).

Plain Python on purpose: the numbers in ``metrics.json`` and the README must be exactly
reproducible and checkable by hand, without a library's averaging conventions in between.
Precision of a class never predicted is 0 (not NaN), like scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> list[list[int]]:
    """Rows are gold labels, columns predicted labels, both in ``labels`` order."""
    index = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g not in index or p not in index:
            raise ValueError(f"label outside {list(labels)}: gold={g!r} pred={p!r}")
        m[index[g]][index[p]] += 1
    return m


def classification_metrics(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 (mean over ``labels``), per-class P/R/F1/support, confusion matrix."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    labels = list(labels)
    m = confusion_matrix(gold, pred, labels)
    n = len(gold)
    per_class: dict[str, dict[str, float | int]] = {}
    for i, lab in enumerate(labels):
        tp = m[i][i]
        support = sum(m[i])
        predicted = sum(row[i] for row in m)
        p = _safe_div(tp, predicted)
        r = _safe_div(tp, support)
        f1 = _safe_div(2 * p * r, p + r)
        per_class[lab] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    correct = sum(m[i][i] for i in range(len(labels)))
    macro = _safe_div(sum(float(c["f1"]) for c in per_class.values()), len(labels))
    return {
        "n": n,
        "accuracy": round(_safe_div(correct, n), 4),
        "macro_f1": round(macro, 4),
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": m},
    }


def neutral_called_negative(gold: Sequence[str], pred: Sequence[str]) -> float | None:
    """Share of gold-neutral posts predicted negative: the false alarms that would flood alerts."""
    neutral = [p for g, p in zip(gold, pred, strict=True) if g == "neutral"]
    if not neutral:
        return None
    return round(sum(1 for p in neutral if p == "negative") / len(neutral), 4)


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float | None:
    """ECE: |accuracy − mean confidence| per equal-width confidence bin, weighted by bin size."""
    if not confidences:
        return None
    totals = [[0, 0.0, 0] for _ in range(bins)]  # n, sum confidence, n correct
    for c, ok in zip(confidences, correct, strict=True):
        b = min(bins - 1, int(c * bins))
        totals[b][0] += 1
        totals[b][1] += c
        totals[b][2] += int(ok)
    n = len(confidences)
    ece = sum(abs(k / cnt - s / cnt) * cnt / n for cnt, s, k in totals if cnt)
    return round(ece, 4)


def format_metrics(metrics: dict[str, Any]) -> str:
    """Human-readable report for ``yuqing eval`` (the JSON form is in metrics.json)."""
    labels = metrics["confusion"]["labels"]
    width = max(10, *(len(lab) + 2 for lab in labels))
    lines = [
        f"posts: {metrics['n']}   accuracy: {metrics['accuracy']:.4f}   macro-F1: {metrics['macro_f1']:.4f}"
    ]
    if metrics.get("neutral_called_negative") is not None:
        lines.append(f"neutral called negative: {metrics['neutral_called_negative']:.2%}")
    if metrics.get("ece") is not None:
        lines.append(f"expected calibration error: {metrics['ece']:.4f}")
    lines.append("")
    lines.append(f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for lab in labels:
        c = metrics["per_class"][lab]
        lines.append(
            f"{lab:<{width}}{c['precision']:>10.4f}{c['recall']:>10.4f}{c['f1']:>10.4f}{c['support']:>10}"
        )
    lines.append("")
    lines.append("confusion matrix (rows: gold, columns: predicted)")
    lines.append(" " * width + "".join(f"{lab[:9]:>10}" for lab in labels))
    for lab, row in zip(labels, metrics["confusion"]["matrix"], strict=True):
        lines.append(f"{lab:<{width}}" + "".join(f"{v:>10}" for v in row))
    return "\n".join(lines)
