"""A tiny sentiment model trains in seconds, round-trips save/load/promote, and the pipeline
component scores posts and hot-reloads a newly promoted version."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.commands.models import promote
from core.pipeline import Context, PipelineError
from core.schema import Post, Sentiment
from nlp.sentiment import LABELS, ModelError, SentimentModel, resolve_model_dir
from nlp.tasks import TaskError
from tests.conftest import make_settings

CUES = {
    "negative": [
        "物业太差了投诉无门",
        "又停水了烦死了",
        "垃圾堆成山没人管太恶心",
        "噪音吵得睡不着很愤怒",
    ],
    "neutral": [
        "请问社保卡在哪里办理",
        "明天上午九点停电检修通知",
        "关于道路施工的公告",
        "请问几点开门",
    ],
    "positive": [
        "路灯修好了谢谢社区",
        "点赞网格员服务好",
        "新公园开放了真开心",
        "感谢师傅及时处理",
    ],
}


def write_data(path: Path, n_per_class: int, seed: int) -> None:
    rng = random.Random(seed)
    places = ["洪家楼", "七里堡", "唐冶", "山大路", "全福", "华山"]
    with path.open("w", encoding="utf-8") as fh:
        for label, texts in CUES.items():
            for i in range(n_per_class):
                text = f"{rng.choice(places)}{rng.choice(texts)}{i}"
                fh.write(json.dumps({"text": text, "sentiment": label}, ensure_ascii=False) + "\n")


TINY = {"layers": 1, "hidden": 64, "heads": 2, "intermediate": 128}


def train_tiny(tmp: Path, out: Path, seed: int = 13) -> dict:
    from nlp.sentiment_train import train

    write_data(tmp / "train.jsonl", 30, seed)
    write_data(tmp / "dev.jsonl", 6, seed + 1)
    return train(
        tmp / "train.jsonl", tmp / "dev.jsonl", out, base="scratch", seed=seed, epochs=12,
        lr=2e-3, batch_size=8, reviews=0, shape=TINY, threads=1, patience=12,
    )  # fmt: skip


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sent")
    root = tmp / "models" / "sentiment"
    train_tiny(tmp, root / "v1")
    promote(root, "v1")
    return root


def test_tiny_model_trains_and_writes_everything(model_root: Path):
    d = model_root / "v1"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json",
                 "yuqing_model.json", "README.md"):  # fmt: skip
        assert (d / name).exists(), name
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["dev"]["macro_f1"] >= 0.6  # the cue words are easy; chance is ~0.33
    meta = json.loads((d / "yuqing_model.json").read_text())
    assert meta["temperature"] > 0 and meta["labels"] == list(LABELS)
    assert "Intended use" in (d / "README.md").read_text()
    # the TF-IDF companion is fitted with the model and named in its metadata and card
    assert (d / "companion.npz").exists() and meta["companion"]["weight_transformer"] == 0.5
    assert "test_transformer_only" not in metrics  # no test file given to the tiny run
    assert "companion" in (d / "README.md").read_text()


def test_companion_is_averaged_in_and_a_missing_file_is_a_clear_error(
    model_root: Path, tmp_path: Path
):
    texts = ["洪家楼物业太差了投诉无门", "请问社保卡在哪里办理", "感谢师傅及时处理"]
    both = SentimentModel(model_root)
    alone = SentimentModel(model_root, companion=False)
    assert both.companion is not None and alone.companion is None
    pb, pa = both.predict(texts), alone.predict(texts)
    assert [p.probs for p in pb] != [p.probs for p in pa]
    for p in pb:
        assert abs(sum(p.probs.values()) - 1) < 1e-3
    broken = tmp_path / "broken"
    shutil.copytree(model_root / "v1", broken)
    (broken / "companion.npz").unlink()
    with pytest.raises(ModelError, match="companion"):
        SentimentModel(broken)


def test_load_resolves_current_and_predicts_calibrated_probs(model_root: Path):
    m = SentimentModel(model_root, max_chunks=3)
    assert m.version == "v1" and resolve_model_dir(model_root) == model_root / "v1"
    preds = m.predict(["洪家楼物业太差了投诉无门", "请问社保卡在哪里办理", "感谢师傅及时处理"])
    assert [p.label for p in preds] == ["negative", "neutral", "positive"]
    for p in preds:
        assert abs(sum(p.probs.values()) - 1) < 1e-3 and p.score == max(p.probs.values())
    # a long post is chunked (3 chunks max) and still gets one answer, no truncation error
    long = "感谢师傅及时处理" * 200
    (p,) = m.predict([long])
    assert p.label in LABELS
    assert m.predict([]) == []


def test_missing_model_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelError, match="no sentiment model"):
        resolve_model_dir(tmp_path)
    (tmp_path / "CURRENT").write_text("nope\n")
    with pytest.raises(ModelError, match="nope"):
        resolve_model_dir(tmp_path)


def test_bad_training_data_names_the_line(tmp_path: Path):
    from nlp.sentiment_train import train

    (tmp_path / "t.jsonl").write_text(
        '{"text": "好", "sentiment": "positive"}\n{"text": "x", "sentiment": "angry"}\n'
    )
    with pytest.raises(TaskError, match=r"t.jsonl:2: sentiment 'angry'"):
        train(tmp_path / "t.jsonl", None, tmp_path / "out", base="scratch", reviews=0)


def _post(pid: str, text: str) -> Post:
    return Post(
        id=pid, source="t", source_type="microblog", text=text, published_at=datetime.now(UTC)
    )


def test_component_scores_reloads_and_keeps_versions(model_root: Path, tmp_path: Path):
    from enrich.sentiment import create

    settings = make_settings(tmp_path, nlp={"sentiment": {"model_dir": str(model_root)}})
    comp = create(Context(settings))
    assert comp.reload() is False  # nothing new promoted
    (a,) = comp([_post("t:1", "又停水了烦死了")])
    assert a.sentiment.model_version == "v1" and a.sentiment.label in LABELS

    # a second version, promoted: the component switches on reload; earlier posts keep v1
    train_tiny(tmp_path, model_root / "v2", seed=7)
    promote(model_root, "v2")
    assert comp.reload() is True and comp.version == "v2"
    (b,) = comp([_post("t:2", "又停水了烦死了")])
    assert b.sentiment.model_version == "v2" and a.sentiment.model_version == "v1"

    # a broken promotion is refused on reload and the old version keeps serving
    (model_root / "broken").mkdir()
    (model_root / "broken" / "config.json").write_text("{not json")
    (model_root / "CURRENT").write_text("broken\n")
    assert comp.reload() is False and comp.version == "v2"
    promote(model_root, "v1")
    assert comp.reload() is True and comp.version == "v1"


def test_component_keeps_analyst_labels(model_root: Path, tmp_path: Path):
    from core.services import Services
    from enrich.sentiment import create

    settings = make_settings(tmp_path, nlp={"sentiment": {"model_dir": str(model_root)}})
    services = Services.open(settings)
    try:
        stored = _post("t:9", "路灯修好了谢谢社区")
        stored.sentiment = Sentiment(label="negative", score=1.0, model_version="analyst:alice")
        services.store.upsert([stored])
        comp = create(Context(settings, services.store))
        again, fresh = comp(
            [_post("t:9", "路灯修好了谢谢社区"), _post("t:10", "路灯修好了谢谢社区")]
        )
        assert (
            again.sentiment.model_version == "analyst:alice" and again.sentiment.label == "negative"
        )
        assert fresh.sentiment.model_version == "v1"
    finally:
        services.close()


def test_component_without_model_fails_clearly(tmp_path: Path):
    from enrich.sentiment import create

    settings = make_settings(tmp_path, nlp={"sentiment": {"model_dir": str(tmp_path / "none")}})
    with pytest.raises(PipelineError, match="no sentiment model"):
        create(Context(settings))


def test_promote_rejects_unknown_version(model_root: Path):
    from core.cli import CliError

    with pytest.raises(CliError, match="no model version"):
        promote(model_root, "v99")
    with pytest.raises(CliError, match="invalid version"):
        promote(model_root, "../x")


def test_cli_models_list_promote_eval(model_root: Path, tmp_path: Path):
    import subprocess
    import sys

    from tests.conftest import REPO

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'var'}\nnlp:\n  sentiment:\n    model_dir: {model_root}\n"
    )
    write_data(tmp_path / "eval.jsonl", 4, 99)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())", "--config", str(cfg), *args],
            capture_output=True, text=True, cwd=REPO, timeout=120,
        )  # fmt: skip

    r = cli("models", "list")
    assert r.returncode == 0 and "sentiment" in r.stdout and "v1" in r.stdout, r.stderr
    r = cli("models", "promote", "sentiment", "nope")
    assert r.returncode == 2 and "no sentiment model" in r.stderr
    r = cli("eval", "sentiment", "--data", str(tmp_path / "eval.jsonl"), "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["n"] == 12 and {"accuracy", "macro_f1", "per_class", "confusion"} <= set(m)
    assert m["neutral_called_negative"] is not None
    r = cli("eval", "sentiment", "--data", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "not found" in r.stderr


def test_processor_reloads_pipeline_periodically(services):
    from core.pipeline import Pipeline
    from core.processor import Processor

    class Reloadable:
        name = "fake"
        calls = 0

        def __call__(self, posts):
            return posts

        def reload(self) -> bool:
            Reloadable.calls += 1
            if Reloadable.calls == 2:
                raise RuntimeError("broken model")  # must not escape into the processor loop
            return True

    proc = Processor(services.inbox, Pipeline([Reloadable()]), services.store, reload_interval=3600)
    assert proc.maybe_reload() == [] and Reloadable.calls == 0  # not due yet
    proc.reload_interval = 0
    assert proc.maybe_reload() == ["fake"]
    assert proc.maybe_reload() == []  # the failure is logged, processing goes on
    assert Reloadable.calls == 2
