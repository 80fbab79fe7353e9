"""Sentiment inference throughput and the service's memory with the model loaded.

1. posts/s of the promoted default model (``models/sentiment``) as served (int8) and in float32,
   on real-length posts (the labelled governance posts, titles included, long ones chunked),
   batches of 64, with 2 and 1 torch threads (the service default is 1, leaving a core for the
   API); median of 3 runs.
2. The same code path with a BERT-base-shaped model (12 layers, hidden 768, same tokenizer,
   random weights), float32 and int8, in the same run, so ratios share the machine state.
3. Peak RSS of a fresh process that opens the services with ``[keywords, sentiment]``, builds the
   API app and scores one batch (and the same without sentiment, for the difference).
Target: ≥ 200 posts/s on 2 threads and ≥ 10× the BERT-base shape.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_ROOT = REPO / "models" / "sentiment"


def _texts(n: int, seed: int = 13) -> list[str]:
    from nlp.sentiment_train import post_text

    recs = []
    for name in ("train", "dev", "test"):
        p = REPO / "data" / "labelled" / f"{name}.jsonl"
        recs += [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
    rng = random.Random(seed)
    return [post_text(rng.choice(recs)) for _ in range(n)]


def _rate(model, texts: list[str], runs: int) -> float:
    model.predict(texts[:64])  # warm-up
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        model.predict(texts)
        rates.append(len(texts) / (time.perf_counter() - t0))
    return round(statistics.median(rates), 1)


def _bert_base_dir(tokenizer_dir: Path, out: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from nlp.sentiment import LABELS

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        num_labels=3,
        id2label=dict(enumerate(LABELS)),
        label2id={v: k for k, v in enumerate(LABELS)},
    )
    BertForSequenceClassification(cfg).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


_RSS_CHILD = r"""
import json, sys
from datetime import datetime, UTC
from core.config import load_settings
from core.services import Services
from core.schema import Post
from api.app import create_app
cfg = sys.argv[1]
services = Services.open(load_settings(cfg))
app = create_app(services)
posts = [Post(id=f"b:{i}", source="b", source_type="microblog", text=t, published_at=datetime.now(UTC))
         for i, t in enumerate(json.loads(sys.argv[2]))]
services.pipeline(posts)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent
status = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("Vm")}
print(json.dumps({"max_rss_mb": round(status["VmHWM"] / 1024, 1),
                  "rss_mb": round(status["VmRSS"] / 1024, 1), "components": services.pipeline.names}))
services.close()
"""


def _service_rss(components: list[str], texts: list[str], tmp: Path) -> dict:
    cfg = tmp / f"rss-{'-'.join(components)}.yaml"
    cfg.write_text(
        json.dumps(
            {
                "data_dir": str(tmp / f"var-{len(components)}"),
                "pipeline": {"components": components},
                "nlp": {"threads": 1, "sentiment": {"model_dir": str(MODEL_ROOT)}},
            }
        ),
        encoding="utf-8",
    )
    r = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(cfg), json.dumps(texts, ensure_ascii=False)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    if r.returncode != 0:
        raise RuntimeError(
            r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "child failed"
        )
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(args) -> dict:
    import torch

    from nlp.sentiment import SentimentModel

    quick = getattr(args, "quick", False)
    load_start = round(os.getloadavg()[0], 2)
    n_small, n_base, runs = (256, 64, 1) if quick else (1024, 128, 3)
    texts = _texts(n_small)
    model = SentimentModel(MODEL_ROOT, batch_size=64)  # as served: int8
    chars = [len(t) for t in texts]
    out: dict = {
        "model_version": model.version,
        "posts": n_small,
        "post_chars_mean": round(statistics.mean(chars), 1),
        "post_chars_p90": sorted(chars)[int(0.9 * len(chars))],
        "batch_size": 64,
        "load_average_1m_start": load_start,
    }
    fp32 = SentimentModel(MODEL_ROOT, batch_size=64, quantize=False)
    out["default_quantized"] = model.quantized
    for threads in (2, 1):
        torch.set_num_threads(threads)
        out[f"default_posts_per_s_{threads}t"] = _rate(model, texts, runs)
        out[f"default_float32_posts_per_s_{threads}t"] = _rate(fp32, texts, runs)
    del fp32
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = _bert_base_dir(model.dir, Path(tmp) / "bert-base")
        torch.set_num_threads(2)
        out["bert_base_posts"] = n_base
        for quant in (False, True):
            base = SentimentModel(base_dir, batch_size=64, quantize=quant)
            torch.set_num_threads(2)
            key = "int8" if quant else "float32"
            if not quant:
                n = sum(p.numel() for p in base.model.parameters())
                out["bert_base_params_m"] = round(n / 1e6, 1)
            out[f"bert_base_{key}_posts_per_s_2t"] = _rate(base, texts[:n_base], runs)
            del base
        out["speedup_vs_bert_base_float32_2t"] = round(
            out["default_posts_per_s_2t"] / out["bert_base_float32_posts_per_s_2t"], 1
        )
        out["speedup_vs_bert_base_int8_2t"] = round(
            out["default_posts_per_s_2t"] / out["bert_base_int8_posts_per_s_2t"], 1
        )
        rss_with = _service_rss(["keywords", "sentiment"], texts[:64], Path(tmp))
        rss_without = _service_rss(["keywords"], texts[:64], Path(tmp))
    out["service_peak_rss_mb_with_sentiment"] = rss_with["max_rss_mb"]
    out["service_rss_mb_with_sentiment"] = rss_with["rss_mb"]
    out["service_peak_rss_mb_without_sentiment"] = rss_without["max_rss_mb"]
    out["service_rss_mb_without_sentiment"] = rss_without["rss_mb"]
    out["rss_components"] = [rss_with["components"], rss_without["components"]]
    out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    out["targets"] = {
        "posts_per_s_2t>=200": out["default_posts_per_s_2t"] >= 200,
        "speedup>=10x": out["speedup_vs_bert_base_float32_2t"] >= 10,
    }
    return out
