"""``yuqing crawl``, ``yuqing sources`` and ``yuqing import hotline|petition FILE``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from core.cli import CliError
from core.config import Settings
from crawler.config import SourcesError


def _sources(settings: Settings):
    from crawler.runtime import sources_for

    try:
        return sources_for(settings)
    except SourcesError as exc:
        raise CliError(str(exc)) from None


def cmd_crawl(args, settings: Settings) -> int:
    from core.commands.data import wait_or_process
    from core.services import Services
    from crawler.runner import run_source

    sources = _sources(settings)
    if args.demo:
        names = [n for n, s in sources.items() if s.demo]
    elif args.enabled:
        names = [n for n, s in sources.items() if s.enabled]
    else:
        names = args.source
    if not names:
        raise CliError("name a source (see `yuqing sources`), or use --demo / --enabled")
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise CliError(f"unknown source {', '.join(unknown)}; known: {', '.join(sorted(sources))}")
    failed = 0
    for name in names:
        log = None if args.quiet else sys.stderr
        result = run_source(settings, sources[name], timeout=args.timeout, log=log)
        status = "ok" if result.ok else "FAILED"
        print(
            f"{name}: {status}, {result.items} items queued, {result.rejected} rejected, "
            f"{result.pages} pages, {result.seconds:.1f}s"
            + (f" — {result.message}" if result.message else "")
        )
        failed += not result.ok
    if not args.no_wait:
        services = Services.open(settings)
        try:
            print(wait_or_process(services))
        finally:
            services.close()
    return 0 if not failed else 1


def _ts(v: float | None) -> str:
    return datetime.fromtimestamp(v).strftime("%m-%d %H:%M") if v else "-"


def cmd_sources(args, settings: Settings) -> int:
    from core.db import connect
    from crawler.health import source_health

    sources = _sources(settings)
    conn = connect(settings.path(settings.app_db))
    try:
        health = {h["source"]: h for h in source_health(conn, list(sources))}
    finally:
        conn.close()
    print(
        f"{'source':28} {'spider':6} {'on':4} {'every':>6} {'last ok':>11} {'items24h':>8}  last error"
    )
    for name, s in sources.items():
        h = health.get(name, {})
        flag = "yes" if s.enabled else ("demo" if s.demo else "no")
        print(
            f"{name:28} {s.spider:6} {flag:4} {s.interval_minutes:>5.0f}m {_ts(h.get('last_success')):>11} "
            f"{h.get('items_24h', 0):>8}  {(h.get('last_error') or '')[:60]}"
        )
    return 0


def cmd_import(args, settings: Settings) -> int:
    from core import metrics
    from core.commands.data import wait_or_process
    from core.services import Services
    from crawler.imports import ImportError_, import_file

    line = settings.crawler.imports.get(args.line)
    if line is None:
        raise CliError(f"no import mapping for {args.line!r} in crawler.imports")
    if args.sheet:
        line = line.model_copy(update={"sheet": args.sheet})
    services = Services.open(settings)
    try:
        try:
            report = import_file(services.inbox, args.line, line, Path(args.file))
        except ImportError_ as exc:
            raise CliError(str(exc)) from None
        metrics.INGESTED.labels(f"import:{args.line}").inc(report.accepted)
        for row, reason in report.errors[:50]:
            print(f"row {row}: {reason}", file=sys.stderr)
        if len(report.errors) > 50:
            print(
                f"… and {len(report.errors) - 50} more (see `yuqing deadletters`)", file=sys.stderr
            )
        how = "queued"
        if report.accepted and not args.no_wait:
            how = wait_or_process(services)
        print(
            f"{args.line}: accepted {report.accepted} rows, rejected {len(report.errors)} "
            f"({report.encoding}); {how}"
        )
        return 0 if not report.errors else 3
    finally:
        services.close()


def register(sub) -> None:
    p = sub.add_parser("crawl", help="crawl sources once now (each in its own process)")
    p.add_argument("source", nargs="*", help="source names from the sources file")
    p.add_argument("--demo", action="store_true", help="all demo sources (the local fixture site)")
    p.add_argument("--enabled", action="store_true", help="all enabled sources")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a crawl is killed")
    p.add_argument("--quiet", action="store_true", help="crawl logs to crawl/logs/ only")
    p.add_argument(
        "--no-wait", action="store_true", help="only queue; leave processing to the service"
    )
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("sources", help="list crawl sources with their health")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser(
        "import", help="import hotline/petition exports (CSV in UTF-8/GBK, or .xlsx)"
    )
    p.add_argument("line", help="hotline | petition (a key of crawler.imports)")
    p.add_argument("file")
    p.add_argument("--sheet", help="Excel sheet name (default: the first)")
    p.add_argument(
        "--no-wait", action="store_true", help="only queue; leave processing to the service"
    )
    p.set_defaults(func=cmd_import)
