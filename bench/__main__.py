"""Run the benchmarks: ``python -m bench [--only store,geo] [--quick]``.

Each ``bench/bench_*.py`` exposes ``run(args) -> dict``. Results are printed and written to
``bench/results/<name>.json`` so the README can quote them with the command that made them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", help="comma-separated benchmark names (e.g. store,geo)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--sizes", help="store bench sizes, e.g. 200000,1000000")
    args, _ = parser.parse_known_args(argv)
    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    RESULTS.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        print(f"== bench {name}", flush=True)
        start = time.time()
        try:
            result = importlib.import_module(f"bench.bench_{name}").run(args)
        except Exception as exc:  # one broken bench must not hide the others
            failed += 1
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        result = {
            "bench": name,
            "quick": args.quick,
            "seconds": round(time.time() - start, 1),
            "machine": f"{platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()}",
            "python": sys.version.split()[0],
            **result,
        }
        (RESULTS / f"{name}{'-quick' if args.quick else ''}.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=1)
        )
        print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
