"""``yuqing analyze``: input order kept, bad lines answered with an error, nothing stored."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from core.analyze import analyze_stream
from tests.conftest import REPO, make_settings


def _lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines()]


def test_order_and_bad_lines(tmp_path: Path):
    settings = make_settings(tmp_path)  # pipeline: keywords only (fast, no model)
    raw = "\n".join(
        [
            json.dumps({"id": "a", "text": "洪家楼街道小区物业管理混乱，垃圾清运不及时"}, ensure_ascii=False),
            "{not json",
            json.dumps({"text": "   "}),
            json.dumps({"id": "d", "text": "唐冶新区路灯已经修好了", "title": "路灯", "source_type": "forum"},
                       ensure_ascii=False),
            json.dumps([1, 2]),
            "",
            json.dumps({"id": "f", "text": "请问社保卡怎么补办", "source_type": "nonsense"}, ensure_ascii=False),
            json.dumps({"text": "没有id的帖子", "sentiment": "positive"}, ensure_ascii=False),
        ]
    ).encode() + b"\n\xff\xfe\n"  # fmt: skip
    out = io.StringIO()
    stats = analyze_stream(io.BytesIO(raw), out, settings, batch_size=2)
    rows = _lines(out.getvalue())
    assert len(rows) == 8  # one answer per non-empty line
    assert rows[0]["id"] == "a" and rows[0]["keywords"]
    assert rows[1]["line"] == 2 and "invalid JSON" in rows[1]["error"]
    assert rows[2]["line"] == 3 and "text" in rows[2]["error"]
    assert rows[3]["id"] == "d" and "error" not in rows[3]
    assert rows[4]["line"] == 5 and "JSON object" in rows[4]["error"]
    assert rows[5]["id"] == "f" and "source_type" in rows[5]["error"]
    assert rows[6]["id"] == "analyze:8" and "sentiment" not in rows[6]  # input labels not echoed
    assert rows[7]["line"] == 9 and "UTF-8" in rows[7]["error"]
    assert stats == {"ok": 3, "errors": 5}
    assert not (Path(settings.data_dir) / "yuqing.db").exists()  # nothing stored


def test_a_failing_component_costs_only_its_post(tmp_path: Path):
    from core.pipeline import Pipeline

    class Picky:
        name = "picky"

        def __call__(self, posts):
            if any("炸" in p.text for p in posts):
                raise RuntimeError("cannot handle this one")
            for p in posts:
                p.keywords = ["ok"]
            return posts

    raw = "\n".join(
        json.dumps({"id": str(i), "text": t}, ensure_ascii=False)
        for i, t in enumerate(["好", "炸", "行"])
    )
    out = io.StringIO()
    analyze_stream(
        io.BytesIO(raw.encode()), out, make_settings(tmp_path), pipeline=Pipeline([Picky()])
    )
    rows = _lines(out.getvalue())
    assert [r["id"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["keywords"] == ["ok"] and rows[2]["keywords"] == ["ok"]
    assert "processing failed" in rows[1]["error"]


def test_cli_analyze_with_sentiment_model(tmp_path: Path):
    """The CLI end to end with the sentiment component on a tiny trained model."""
    from core.commands.models import promote
    from tests.test_sentiment_model import train_tiny

    root = tmp_path / "models" / "sentiment"
    train_tiny(tmp_path, root / "t1")
    promote(root, "t1")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'var'}\npipeline:\n  components: [keywords, sentiment]\n"
        f"nlp:\n  sentiment:\n    model_dir: {root}\n",
        encoding="utf-8",
    )
    inp = "\n".join(
        [json.dumps({"id": "x:1", "text": "又停水了烦死了"}, ensure_ascii=False), "oops",
         json.dumps({"id": "x:3", "text": "感谢师傅及时处理"}, ensure_ascii=False)]
    )  # fmt: skip
    r = subprocess.run(
        [sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())", "--config", str(cfg), "analyze"],
        input=inp.encode(), capture_output=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    rows = _lines(r.stdout.decode())
    assert [r.get("id") for r in rows] == ["x:1", None, "x:3"]
    assert rows[0]["sentiment"]["model_version"] == "t1"
    assert set(rows[2]["sentiment"]["probs"]) == {"negative", "neutral", "positive"}
    assert "error" in rows[1]
