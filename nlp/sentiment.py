"""Three-class sentiment inference (negative / neutral / positive) with a local transformers model.

Models live in ``models/sentiment/<version>/`` (``config.json``, ``model.safetensors``,
``tokenizer.json``, ``yuqing_model.json`` with the calibration temperature, ``metrics.json``,
``README.md``); ``models/sentiment/CURRENT`` names the promoted version.  Loading is strictly
local (``local_files_only`` and offline hub flags): a missing directory is an error, never a
download.

Speed on 2 CPU cores: texts are tokenised once, cut into chunks, sorted by length and batched
so each batch is padded only to its own longest chunk (dynamic padding), under
``torch.inference_mode``.

Long posts: the normalised text is split into consecutive chunks of ``max_length - 2`` tokens.
At most ``max_chunks`` are scored: all of them when the post is short enough, otherwise the first
``max_chunks - 1`` and the last one (conclusions such as "…问题已解决，感谢" sit at the end).  The
post's logits are the token-count-weighted mean of its chunks' logits, then divided by the
temperature fitted on the dev split and turned into probabilities with a softmax.

Served with int8 dynamic quantization of the Linear layers (``nlp.sentiment.quantize``, default
on): about 1.6× the float32 speed on one core; the README gives the accuracy of both.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# never reach for a model hub, even if a name slips through as a path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from nlp.charvocab import normalize_text  # noqa: E402

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
META_FILE = "yuqing_model.json"
CURRENT_FILE = "CURRENT"
THREADS_ENV = "YUQING_TORCH_THREADS"


class ModelError(Exception):
    """A model directory is missing or unusable (one line, user-facing)."""


def resolve_model_dir(path: str | Path) -> Path:
    """A version directory as is, or a parent whose ``CURRENT`` file names the version."""
    p = Path(path)
    if (p / "config.json").exists():
        return p
    current = p / CURRENT_FILE
    if current.exists():
        version = current.read_text(encoding="utf-8").strip()
        target = p / version
        if version and (target / "config.json").exists():
            return target
        raise ModelError(f"{current} names {version!r}, which is not a model directory under {p}")
    raise ModelError(
        f"no sentiment model at {p}: expected a model directory (config.json) or a parent with "
        f"a {CURRENT_FILE} file; train one with `yuqing train sentiment` or `make train`"
    )


def configure_threads(threads: int | None) -> int:
    """torch intra-op threads: $YUQING_TORCH_THREADS beats the config value."""
    env = os.environ.get(THREADS_ENV)
    n = int(env) if env and env.isdigit() and int(env) > 0 else threads
    if n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


@dataclass
class Prediction:
    label: str
    score: float
    probs: dict[str, float]


def softmax_rows(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    return torch.softmax(logits / temperature, dim=-1)


def fit_temperature(logits: torch.Tensor, gold: torch.Tensor) -> float:
    """Temperature minimising the negative log-likelihood of ``gold`` (golden-section, log-space)."""
    if len(gold) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        return float(torch.nn.functional.cross_entropy(logits / t, gold))

    lo, hi = math.log(0.05), math.log(20.0)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return round(math.exp((lo + hi) / 2), 4)


def _quantize(sm: SentimentModel) -> bool:
    """int8 dynamic quantization of the Linear layers: ~1.6× faster on CPU, same predictions
    within the measured noise (README).  Falls back to float32 when the backend lacks it."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch ≥ 2.10 points eager quantization to torchao
            sm.model = torch.ao.quantization.quantize_dynamic(
                sm.model, {torch.nn.Linear}, dtype=torch.qint8
            )
        return True
    except (RuntimeError, AttributeError) as exc:
        log.warning("int8 quantization unavailable, using float32: %s", exc)
        return False


class SentimentModel:
    """A loaded model version. Thread-safe: one inference at a time per instance."""

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = 64,
        max_length: int = 128,
        max_chunks: int = 8,
        threads: int | None = None,
        quantize: bool = True,
        companion: bool = True,
    ) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.dir = resolve_model_dir(path)
        self.version = self.dir.name
        self.batch_size = batch_size
        self.max_chunks = max_chunks
        configure_threads(threads)
        meta_path = self.dir / META_FILE
        self.meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        self.temperature = float(self.meta.get("temperature", 1.0))
        self.max_length = min(max_length, int(self.meta.get("max_length", max_length)))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.dir), local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                str(self.dir), local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load sentiment model {self.dir}: {exc}") from None
        self.model.eval()
        self.quantized = quantize and _quantize(self)
        self.tokenizer.model_max_length = 1 << 30  # long texts are chunked, never truncated
        id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.labels = [id2label[i] for i in range(len(id2label))]
        if sorted(self.labels) != sorted(LABELS):
            raise ModelError(f"{self.dir}: labels {self.labels} are not {list(LABELS)}")
        self._lock = threading.Lock()
        # the TF-IDF companion whose probabilities are averaged in (nlp.sentiment_companion)
        self.companion = None
        self.companion_weight = 1.0
        if companion and self.meta.get("companion"):
            from nlp.sentiment_companion import Companion

            try:
                self.companion = Companion.load(self.dir)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"cannot load the companion of {self.dir}: {exc}") from None
            if self.companion is None:
                raise ModelError(f"{self.dir}: metadata names a companion but its file is missing")
            self.companion_weight = float(self.meta["companion"].get("weight_transformer", 0.5))
            if list(self.labels) != list(LABELS):
                raise ModelError(f"{self.dir}: a companion needs labels in {list(LABELS)} order")

    # -- tokenisation --------------------------------------------------------------------
    def _chunks(self, texts: Sequence[str]) -> list[list[list[int]]]:
        body = self.max_length - 2
        tok = self.tokenizer
        enc = tok([normalize_text(t) or "?" for t in texts], add_special_tokens=False)["input_ids"]
        out = []
        for ids in enc:
            pieces = [ids[i : i + body] for i in range(0, len(ids), body)] or [[]]
            if len(pieces) > self.max_chunks:
                pieces = pieces[: self.max_chunks - 1] + [pieces[-1]]
            out.append([[tok.cls_token_id, *p, tok.sep_token_id] for p in pieces])
        return out

    # -- inference -----------------------------------------------------------------------
    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Raw (uncalibrated) post logits, shape (len(texts), 3), columns in ``self.labels`` order."""
        if not texts:
            return torch.zeros((0, len(self.labels)))
        per_text = self._chunks(texts)
        flat = [(ti, ids) for ti, chunks in enumerate(per_text) for ids in chunks]
        order = sorted(range(len(flat)), key=lambda i: len(flat[i][1]))
        chunk_logits = torch.zeros((len(flat), len(self.labels)))
        pad = self.tokenizer.pad_token_id
        with self._lock, torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                idx = order[s : s + self.batch_size]
                width = max(len(flat[i][1]) for i in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                attn = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    seq = flat[i][1]
                    ids[row, : len(seq)] = torch.tensor(seq)
                    attn[row, : len(seq)] = 1
                chunk_logits[idx] = self.model(input_ids=ids, attention_mask=attn).logits.float()
        out = torch.zeros((len(texts), len(self.labels)))
        weight = torch.zeros(len(texts))
        for i, (ti, ids) in enumerate(flat):
            w = float(len(ids))
            out[ti] += chunk_logits[i] * w
            weight[ti] += w
        return out / weight.unsqueeze(1)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        probs = softmax_rows(self.logits(texts), self.temperature)
        if self.companion is not None and len(texts):
            w = self.companion_weight
            other = torch.from_numpy(self.companion.proba(list(texts))).float()
            probs = w * probs + (1 - w) * other
        preds = []
        for row in probs.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            preds.append(
                Prediction(
                    label=self.labels[best],
                    score=round(row[best], 4),
                    probs={lab: round(p, 4) for lab, p in zip(self.labels, row, strict=True)},
                )
            )
        return preds
