"""Metric code shared by every task: exact values on a hand-checked example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nlp.metrics import (
    classification_metrics,
    confusion_matrix,
    expected_calibration_error,
    format_metrics,
    neutral_called_negative,
)
from nlp.sentiment import fit_temperature

LABELS = ["negative", "neutral", "positive"]
# gold:  neg neg neg neg neu neu neu pos pos pos
# pred:  neg neg neu pos neg neu neu pos pos neg
GOLD = ["negative"] * 4 + ["neutral"] * 3 + ["positive"] * 3
PRED = [
    "negative", "negative", "neutral", "positive",
    "negative", "neutral", "neutral",
    "positive", "positive", "negative",
]  # fmt: skip


def test_confusion_matrix_rows_are_gold():
    assert confusion_matrix(GOLD, PRED, LABELS) == [[2, 1, 1], [1, 2, 0], [1, 0, 2]]


def test_metrics_by_hand():
    m = classification_metrics(GOLD, PRED, LABELS)
    assert m["n"] == 10
    assert m["accuracy"] == 0.6
    # negative: P = 2/4, R = 2/4, F1 = .5 ; neutral: P = 2/3, R = 2/3 ; positive: P = 2/3, R = 2/3
    assert m["per_class"]["negative"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 4}
    assert m["per_class"]["neutral"]["precision"] == pytest.approx(0.6667)
    assert m["per_class"]["positive"]["recall"] == pytest.approx(0.6667)
    assert m["macro_f1"] == pytest.approx(round((0.5 + 2 / 3 + 2 / 3) / 3, 4))
    assert neutral_called_negative(GOLD, PRED) == pytest.approx(0.3333)
    text = format_metrics({**m, "neutral_called_negative": 1 / 3})
    assert "macro-F1: 0.6111" in text and "33.33%" in text


def test_class_never_predicted_has_zero_precision_not_nan():
    m = classification_metrics(["negative", "positive"], ["negative", "negative"], LABELS)
    assert m["per_class"]["positive"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_class"]["neutral"]["support"] == 0
    assert neutral_called_negative(["negative"], ["negative"]) is None


def test_unknown_label_and_length_mismatch_are_errors():
    with pytest.raises(ValueError):
        classification_metrics(["negative"], ["angry"], LABELS)
    with pytest.raises(ValueError):
        classification_metrics(["negative"], [], LABELS)


def test_expected_calibration_error():
    # two bins: 0.9 conf, 1/2 correct (|0.5-0.9| * 2/4) ; 0.6 conf, 2/2 correct (|1-0.6| * 2/4)
    ece = expected_calibration_error([0.9, 0.9, 0.6, 0.6], [True, False, True, True])
    assert ece == pytest.approx(0.2 + 0.2)


def test_temperature_fit_recovers_known_temperature():
    g = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 3, generator=g) * 2
    gold = torch.multinomial(torch.softmax(true_logits, -1), 1, generator=g).squeeze(1)
    t = fit_temperature(true_logits * 3.0, gold)  # over-confident by a factor 3
    assert t == pytest.approx(3.0, rel=0.1)


def test_committed_split_is_reproducible():
    root = Path(__file__).resolve().parent.parent
    if not (root / "data/labelled/test.jsonl").exists():
        pytest.skip("split not committed yet")
    r = subprocess.run(
        [sys.executable, "data/labelled/split.py", "--check"],
        cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
