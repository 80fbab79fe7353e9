"""Registry of trainable tasks, shared by ``yuqing train`` / ``yuqing eval`` / ``make train``.

Each task module exposes::

    label_field: str                      # the JSONL key holding the gold label
    train(train_path, dev_path, out_dir, base=None, seed=13, time_budget_s=None, **kw) -> dict
    evaluate(model_dir, data_path) -> dict   # see nlp.metrics.classification_metrics

``train`` writes a loadable model directory with ``metrics.json`` and a README model card and
returns the metrics it wrote.  Modules are imported only when used, so one task's heavy
dependencies never slow down another's commands.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

TASKS: dict[str, str] = {
    "sentiment": "nlp.sentiment_train",
    "category": "nlp.category_train",
    "risk": "nlp.risk_train",
}


class TaskError(Exception):
    """A user-facing problem with a task name or its data (one line)."""


def get_task(name: str) -> ModuleType:
    module_name = TASKS.get(name)
    if module_name is None:
        raise TaskError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}")
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskError(f"task {name!r} is not available: {exc}") from None


def load_examples(
    path: str | Path, label_field: str, labels: tuple[str, ...] | list[str] | None = None
) -> list[dict[str, Any]]:
    """Read labelled JSONL (``text`` plus ``label_field``); any bad line is a TaskError naming it.

    Training on silently skipped data hides mistakes in a labelled file, so nothing is skipped:
    the first bad line stops the run with its line number.
    """
    p = Path(path)
    if not p.exists():
        raise TaskError(f"data file not found: {p}")
    out: list[dict[str, Any]] = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise TaskError(f"{p}:{lineno}: expected a JSON object")
            text = rec.get("text")
            if not isinstance(text, str) or not text.strip():
                raise TaskError(f"{p}:{lineno}: missing or empty 'text'")
            label = rec.get(label_field)
            if isinstance(label, dict):  # an enriched post: {"label": ..., "score": ...}
                label = label.get("label") or label.get("level")
            if not isinstance(label, str) or not label:
                raise TaskError(f"{p}:{lineno}: missing {label_field!r} label")
            if labels is not None and label not in labels:
                raise TaskError(
                    f"{p}:{lineno}: {label_field} {label!r} is not one of {', '.join(labels)}"
                )
            rec = dict(rec)
            rec[label_field] = label
            out.append(rec)
    if not out:
        raise TaskError(f"{p} holds no labelled records")
    return out
