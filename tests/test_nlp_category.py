"""Category: the shipped model through the pipeline, taxonomy config, train/eval tooling."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from core.config import ConfigError
from core.pipeline import Context, build_pipeline
from core.schema import SHANGHAI, Category, Post
from nlp import category_train, risk_train
from nlp.tasks import TaskError
from tests.conftest import REPO, make_settings


def _post(pid: str, text: str) -> Post:
    return Post(
        id=pid,
        source="t",
        source_type="hotline",
        text=text,
        published_at=datetime(2026, 11, 20, 9, tzinfo=SHANGHAI),
    )


def test_component_labels_with_taxonomy_names(services):
    pipe = build_pipeline(Context(services.settings, services.store), ["category"])
    out = pipe([_post("a", "来电人反映：公司拖欠农民工工资三个月了，包工头联系不上，请求帮忙讨薪")])
    cat = out[0].category
    assert cat.label == "wages" and cat.name == "劳动欠薪"
    assert 0 < cat.score <= 1 and cat.model_version


def test_analyst_label_survives_reingest(services):
    pipe = build_pipeline(Context(services.settings, services.store), ["category"])
    p = _post("a", "来电人反映：公司拖欠农民工工资三个月了")
    p.category = Category(label="housing", name="房产住建", model_version="analyst:alice")
    services.store.upsert([p])
    again = pipe([_post("a", "来电人反映：公司拖欠农民工工资三个月了")])
    assert again[0].category.label == "housing"


def test_taxonomy_must_keep_other(tmp_path):
    with pytest.raises(ConfigError, match="other"):
        make_settings(tmp_path, analysis={"category": {"taxonomy": {"property": "物业"}}})
    s = make_settings(tmp_path, analysis={"category": {"taxonomy": {"other": "其他"}}})
    pipe = build_pipeline(Context(s, None), ["category"])  # labels outside it show as other
    assert pipe([_post("a", "物业乱收费")])[0].category.label == "other"


def _subset(src, dst, n):
    lines = (REPO / "data" / "labelled" / src).read_text(encoding="utf-8").splitlines()[:n]
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def test_train_and_evaluate_small(tmp_path):
    tr = _subset("train.jsonl", tmp_path / "tr.jsonl", 300)
    dev = _subset("dev.jsonl", tmp_path / "dev.jsonl", 80)
    out = tmp_path / "category-t1"
    m = category_train.train(tr, dev, out)
    assert (out / "model.joblib").exists() and (out / "README.md").exists()
    assert json.loads((out / "metrics.json").read_text())["dev"]["n"] == 80
    e = category_train.evaluate(out, dev)
    assert e["accuracy"] == m["dev"]["accuracy"] and e["model_version"] == "category-t1"
    with pytest.raises(TaskError, match="--base"):
        category_train.train(tr, dev, tmp_path / "x", base="m3e")
    with pytest.raises(TaskError, match="no model"):
        category_train.evaluate(tmp_path / "missing", dev)


def test_risk_train_and_evaluate_small(tmp_path):
    tr = _subset("train.jsonl", tmp_path / "tr.jsonl", 400)
    dev = _subset("dev.jsonl", tmp_path / "dev.jsonl", 80)
    out = tmp_path / "risk-t1"
    m = risk_train.train(tr, dev, out)
    assert set(m["thresholds"]) == {"critical", "lexicon_critical", "elevated"}
    e = risk_train.evaluate(out, dev)
    for key in ("critical_precision", "critical_recall", "lexicon_only", "traps"):
        assert key in e


def test_word_and_normalised_lexicon_blocks_round_trip(tmp_path):
    """Word TF-IDF + log-scaled, L2-normalised dict features: fit, save, load, same output."""
    from nlp.category import category_features
    from nlp.textclf import TextClassifier

    texts = ["小区物业不作为电梯坏了", "工地夜间施工噪音扰民", "物业费乱收", "广场舞音响太吵"] * 3
    labels = ["property", "noise", "property", "noise"] * 3
    extras = [category_features(t) for t in texts]
    m = TextClassifier(
        kind="svm", ngram_max=2, C=0.5, word_weight=0.5, extra_weight=0.1, extra_norm=True
    ).fit(texts, labels, extras)
    x = m._matrix(texts[:1], extras[:1])
    assert x.shape[1] > len(m.tfidf.vocabulary_)  # char + word + lexicon columns
    m.save(tmp_path / "v", {"version": "v"})
    m2, _ = TextClassifier.load(tmp_path / "v")
    assert (m2.predict_proba(texts, extras) == m.predict_proba(texts, extras)).all()
    assert (
        m2.classes[
            int(
                m2.predict_proba(["物业公司不修电梯"], [category_features("物业公司不修电梯")])[
                    0
                ].argmax()
            )
        ]
        == "property"
    )
