"""Split the labelled governance posts ONCE into train/dev/test (run from the repo root).

    python data/labelled/split.py [--check]

Union of ``governance_*.jsonl`` → validated (fields and label values per GUIDELINES.md),
exact-duplicate texts dropped (first kept, so one text never sits in two splits), then a
stratified split by ``category × sentiment`` with a fixed seed: in every stratum ~70% train,
~10% dev, ~20% test.  The test split is never trained on; sentiment (issue 3) and
category/risk (issue 4) models share these files, so do not re-split once models have been
evaluated on them: ``--check`` recomputes the split and verifies the committed files match.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261126
FRACTIONS = {"test": 0.2, "dev": 0.1}
SENTIMENTS = {"negative", "neutral", "positive"}
RISKS = {"none", "elevated", "critical"}
CATEGORIES = {
    "property",
    "demolition",
    "environment",
    "noise",
    "traffic",
    "wages",
    "education",
    "health",
    "food_safety",
    "public_security",
    "safety",
    "housing",
    "utilities",
    "urban_management",
    "consumer",
    "social_welfare",
    "government_service",
    "other",
}
CHANNELS = {"microblog", "forum", "news_comment", "hotline", "message_board", "notice", "news"}


def load(paths: list[Path]) -> list[dict]:
    records: list[dict] = []
    seen_ids: set[str] = set()
    seen_text: set[str] = set()
    dropped = 0
    for path in paths:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            rec = json.loads(line)
            for key in ("id", "text", "channel", "sentiment", "category", "risk"):
                if not isinstance(rec.get(key), str) or not rec[key].strip():
                    raise SystemExit(f"{where}: missing {key!r}")
            if rec["sentiment"] not in SENTIMENTS:
                raise SystemExit(f"{where}: bad sentiment {rec['sentiment']!r}")
            if rec["risk"] not in RISKS:
                raise SystemExit(f"{where}: bad risk {rec['risk']!r}")
            if rec["category"] not in CATEGORIES:
                raise SystemExit(f"{where}: bad category {rec['category']!r}")
            if rec["channel"] not in CHANNELS:
                raise SystemExit(f"{where}: bad channel {rec['channel']!r}")
            if rec["id"] in seen_ids:
                raise SystemExit(f"{where}: duplicate id {rec['id']!r}")
            seen_ids.add(rec["id"])
            key = "".join(rec["text"].split())
            if key in seen_text:
                dropped += 1
                continue
            seen_text.add(key)
            records.append(rec)
    if dropped:
        print(f"dropped {dropped} exact-duplicate texts", file=sys.stderr)
    return records


def split(records: list[dict], seed: int = SEED) -> dict[str, list[dict]]:
    strata: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rec in sorted(records, key=lambda r: r["id"]):
        strata[(rec["category"], rec["sentiment"])].append(rec)
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for key in sorted(strata):
        items = strata[key]
        rng.shuffle(items)
        n_test = round(len(items) * FRACTIONS["test"])
        n_dev = round(len(items) * FRACTIONS["dev"])
        out["test"] += items[:n_test]
        out["dev"] += items[n_test : n_test + n_dev]
        out["train"] += items[n_test + n_dev :]
    for name in out:
        out[name].sort(key=lambda r: r["id"])
    return out


def dumps(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="verify the committed split files")
    args = ap.parse_args(argv)
    paths = sorted(HERE.glob("governance_*.jsonl"))
    if not paths:
        raise SystemExit(f"no governance_*.jsonl in {HERE}")
    parts = split(load(paths))
    if len(parts["test"]) < 300:
        raise SystemExit(f"test split has only {len(parts['test'])} posts (need ≥ 300)")
    for name, recs in parts.items():
        target = HERE / f"{name}.jsonl"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != dumps(recs):
                raise SystemExit(f"{target} differs from the recomputed split")
        else:
            target.write_text(dumps(recs), encoding="utf-8")
        sent = Counter(r["sentiment"] for r in recs)
        print(
            f"{name}: {len(recs)} posts, " + ", ".join(f"{k} {v}" for k, v in sorted(sent.items()))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
