"""Character vocabulary and fast tokenizer for the in-house Chinese BERT.

Why our own vocabulary instead of bert-base-chinese's 21,128 tokens: it is built from the text we
train on (licence-clean, no third-party vocabulary file) and about a third of the size, which
keeps the embedding matrix (most of a small BERT's weights) and the committed model small.
Chinese is tokenised one character per token (BERT's basic tokenizer); Latin letters, digits and
symbols fall back to single characters with ``##`` continuations, so nothing outside the
vocabulary but truly unseen characters becomes ``[UNK]``.

Only depends on the standard library and ``transformers`` so the pretraining script can run on a
bare GPU machine that has neither the project's other dependencies nor snownlp.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def normalize_text(text: str) -> str:
    """NFKC (full-width Latin/digits → ASCII, compatibility forms), lower-case, collapse spaces.

    Applied identically before pretraining, fine-tuning and inference.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(text.split())


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def count_chars(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(ch for ch in normalize_text(t) if not ch.isspace())
    return counts


def build_vocab(counts: Counter[str], min_count: int = 2, max_size: int = 8000) -> list[str]:
    """Special tokens, then characters by frequency; non-CJK characters also get a ``##`` form.

    ASCII letters and digits are always present so English words and numbers never become
    ``[UNK]`` as a whole.
    """
    always = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    chars = [ch for ch, n in counts.most_common() if n >= min_count]
    vocab: list[str] = list(SPECIAL_TOKENS)
    seen = set(vocab)

    def add(tok: str) -> None:
        if tok not in seen:
            seen.add(tok)
            vocab.append(tok)

    for ch in always:
        add(ch)
        add("##" + ch)
    for ch in chars:
        if len(vocab) >= max_size:
            break
        add(ch)
        if not _is_cjk(ch) and not unicodedata.category(ch).startswith("P"):
            add("##" + ch)
    return vocab


def save_tokenizer(vocab: list[str], out_dir: str | Path):
    """Write ``vocab.txt`` and the fast tokenizer (``tokenizer.json``) into ``out_dir``.

    Built with the ``tokenizers`` library directly (BERT normaliser, pre-tokenizer and WordPiece
    over our vocabulary) so the saved ``tokenizer.json`` is self-contained and loads with
    ``AutoTokenizer.from_pretrained(dir)`` across transformers versions. Returns the tokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    ids = {tok: i for i, tok in enumerate(vocab)}
    backend = Tokenizer(
        models.WordPiece(vocab=ids, unk_token="[UNK]", max_input_chars_per_word=100)
    )
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    backend.decoder = decoders.WordPiece(prefix="##")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    tok.save_pretrained(str(out))
    # name the class every transformers version knows (v5 writes its new "TokenizersBackend")
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False), encoding="utf-8")
    return tok
