"""Analyst feedback: POST /api/v1/posts/{id}/labels, roles, history, export round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

from core.schema import Post, Sentiment
from tests.conftest import REPO


def _seed(services, pid="weibo:4987/1"):
    p = Post(
        id=pid, source="weibo", source_type="microblog", title="停水", text="小区又停水了，物业也不通知",
        published_at=datetime.now(UTC),
        sentiment=Sentiment(label="neutral", score=0.6, probs={}, model_version="m1"),
    )  # fmt: skip
    services.store.upsert([p])
    return pid


def test_roles_and_round_trip(client, services, api_keys):
    pid = _seed(services)
    url = f"/api/v1/posts/{pid}/labels"
    body = {"sentiment": "negative", "risk": "elevated", "note": "明显是投诉"}
    assert client.post(url, json=body, headers={"X-API-Key": api_keys["viewer"]}).status_code == 403
    assert client.post(url, json=body, headers={"X-API-Key": ""}).status_code == 401
    r = client.post(url, json=body, headers={"X-API-Key": api_keys["analyst"]})
    assert r.status_code == 201, r.text
    rows = {row["field"]: row for row in r.json()["labels"]}
    assert (
        rows["sentiment"]["previous"] == "neutral" and rows["sentiment"]["previous_version"] == "m1"
    )
    assert rows["sentiment"]["actor"] == "test-analyst" and rows["risk"]["previous"] is None
    # the stored post now carries the correction (GET on the same id containing ':' and '/')
    post = client.get(f"/api/v1/posts/{pid}").json()
    assert post["sentiment"]["label"] == "negative"
    assert post["sentiment"]["model_version"] == "analyst:test-analyst"
    assert post["risk"]["level"] == "elevated"
    # the search filters see it too
    found = client.get("/api/v1/posts", params={"sentiment": "negative"}).json()
    assert [h["post"]["id"] if "post" in h else h["id"] for h in found["hits"]] == [pid]
    # history, newest first
    hist = client.get("/api/v1/labels", params={"post_id": pid}).json()["labels"]
    assert {h["field"] for h in hist} == {"sentiment", "risk"} and hist[0]["note"] == "明显是投诉"
    # a second correction records the first as previous
    r2 = client.post(
        url, json={"sentiment": "positive"}, headers={"X-API-Key": api_keys["analyst"]}
    )
    assert r2.json()["labels"][0]["previous"] == "negative"


def test_bad_requests(client, services):
    pid = _seed(services, "t:1")
    assert client.post("/api/v1/posts/t:1/labels", json={"sentiment": "angry"}).status_code == 400
    assert client.post("/api/v1/posts/t:1/labels", json={}).status_code == 400
    assert client.post("/api/v1/posts/t:1/labels", json={"risk": "maybe"}).status_code == 400
    assert (
        client.post("/api/v1/posts/t:1/labels", json={"sentiment": "negative", "x": 1}).status_code
        == 400
    )
    r = client.post("/api/v1/posts/nope:2/labels", json={"sentiment": "negative"})
    assert r.status_code == 404 and r.json()["error"].startswith("no post")
    assert client.get(f"/api/v1/posts/{pid}").json()["sentiment"]["label"] == "neutral"


def test_export_cli(client, services, settings, tmp_path):
    pid = _seed(services, "t:7")
    _seed(services, "t:8")
    assert (
        client.post(f"/api/v1/posts/{pid}/labels", json={"sentiment": "negative"}).status_code
        == 201
    )
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data_dir: {settings.data_dir}\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    r = subprocess.run(
        [sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())", "--config", str(cfg), "labels", "export", "--out", str(out)],
        capture_output=True, cwd=REPO, timeout=60, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 1 and recs[0]["id"] == pid and recs[0]["sentiment"] == "negative"
    assert recs[0]["text"] == "小区又停水了，物业也不通知" and recs[0]["labelled_by"] == [
        "test-admin"
    ]
    # usable as training data as is
    from nlp.tasks import load_examples

    assert load_examples(out, "sentiment")[0]["sentiment"] == "negative"
