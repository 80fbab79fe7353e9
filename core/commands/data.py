"""``ingest``, ``search``, ``stats`` and ``deadletters``: direct access to the local data."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from core import metrics
from core.cli import CliError
from core.config import Settings
from core.services import Services
from store.base import Filters, QueryError, SearchQuery

BATCH = 1000


def iter_jsonl(stream: IO[bytes]) -> Iterator[tuple[int, object | None, str | None, str]]:
    """Yield (line number, record or None, error or None, raw text) for each non-empty line."""
    for lineno, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield (
                lineno,
                None,
                f"line {lineno}: not UTF-8 ({exc.reason} at byte {exc.start})",
                raw.decode("utf-8", "replace"),
            )
            continue
        if not text.strip():
            continue
        try:
            yield lineno, json.loads(text), None, text
        except json.JSONDecodeError as exc:
            yield (
                lineno,
                None,
                f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})",
                text,
            )


def wait_or_process(services: Services, timeout: float = 4.0) -> str:
    """Let a running service's processor take the inbox; if none moves it, process here."""
    start_pending = services.inbox.pending()
    if start_pending == 0:
        return "processed"
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        if services.inbox.pending() < start_pending:
            break
    if services.inbox.pending() < start_pending:
        while services.inbox.pending() > 0 and time.time() < deadline + 600:
            time.sleep(0.5)
        return "processed by the running service"
    services.make_processor().drain()
    return "processed here (no running service took them)"


def ingest_stream(services: Services, stream: IO[bytes], origin: str) -> tuple[int, list[str]]:
    accepted, errors = 0, []
    batch: list[object] = []
    line_of: list[int] = []

    def flush() -> None:
        nonlocal accepted
        if not batch:
            return
        result = services.inbox.put(batch, origin=origin)
        accepted += result.accepted
        metrics.INGESTED.labels(origin).inc(result.accepted)
        for r in result.rejected:
            errors.append(f"line {line_of[r.index]}: {r.reason}")
        batch.clear()
        line_of.clear()

    for lineno, record, error, raw in iter_jsonl(stream):
        if error is not None:
            services.inbox.reject(raw, error, origin)
            errors.append(error)
            continue
        batch.append(record)
        line_of.append(lineno)
        if len(batch) >= BATCH:
            flush()
    flush()
    return accepted, errors


def cmd_ingest(args, settings: Settings) -> int:
    services = Services.open(settings)
    try:
        if args.file == "-":
            accepted, errors = ingest_stream(services, sys.stdin.buffer, "cli")
        else:
            path = Path(args.file)
            if not path.is_file():
                raise CliError(f"no such file: {path}")
            with path.open("rb") as fh:
                accepted, errors = ingest_stream(services, fh, "cli")
        for e in errors[:20]:
            print(f"rejected {e}", file=sys.stderr)
        if len(errors) > 20:
            print(f"… and {len(errors) - 20} more (see `yuqing deadletters`)", file=sys.stderr)
        how = "queued"
        if not args.no_wait and accepted:
            how = wait_or_process(services)
        print(f"accepted {accepted}, rejected {len(errors)}; {how}")
        return 0 if not errors else 3
    finally:
        services.close()


def _filters(args) -> Filters:
    from api.deps import parse_time

    def split(v: str | None) -> list[str]:
        return [x for x in (v or "").split(",") if x]

    try:
        return Filters(
            since=parse_time(args.since, "since"),
            until=parse_time(args.until, "until"),
            source_type=split(args.source_type),
            sentiment=split(args.sentiment),
            category=split(args.category),
            risk=split(args.risk),
            street=split(args.street),
            community=split(args.community),
            grid_id=split(args.grid),
        )
    except Exception as exc:  # HTTPException from parse_time carries the message in .detail
        raise CliError(getattr(exc, "detail", str(exc))) from None


def _add_filter_args(p) -> None:
    p.add_argument("--since", help="ISO time or duration (24h, 7d)")
    p.add_argument("--until")
    p.add_argument("--source-type")
    p.add_argument("--sentiment")
    p.add_argument("--category")
    p.add_argument("--risk")
    p.add_argument("--street")
    p.add_argument("--community")
    p.add_argument("--grid")


def cmd_search(args, settings: Settings) -> int:
    services = Services.open(settings)
    try:
        try:
            result = services.store.search(
                SearchQuery(q=args.query, filters=_filters(args), sort=args.sort, size=args.size)
            )
        except QueryError as exc:
            raise CliError(str(exc)) from None
        if args.json:
            print(result.model_dump_json())
            return 0
        print(f"{result.total}{'+' if result.total_relation == 'gte' else ''} posts")
        for hit in result.hits:
            p = hit.post
            snippet = hit.highlights.get("text") or p.text[:100]
            snippet = snippet.replace("<em>", "【").replace("</em>", "】").replace("\n", " ")
            s = p.sentiment.label if p.sentiment else "-"
            print(
                f"- [{p.published_at:%Y-%m-%d %H:%M}] {p.source_type.value}/{p.source} ({s}) {p.id}\n  {snippet}"
            )
        return 0
    finally:
        services.close()


def cmd_stats(args, settings: Settings) -> int:
    services = Services.open(settings)
    try:
        f = _filters(args)
        try:
            if args.kind == "timeline":
                out = [
                    b.model_dump(mode="json")
                    for b in services.store.timeline(f, interval=args.interval, split=args.split)
                ]
            elif args.kind == "breakdown":
                out = [
                    b.model_dump()
                    for b in services.store.breakdown(f, field=args.field, size=args.size)
                ]
            else:
                out = [k.model_dump() for k in services.store.keywords(f, size=args.size)]
        except QueryError as exc:
            raise CliError(str(exc)) from None
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    finally:
        services.close()


def cmd_deadletters(args, settings: Settings) -> int:
    services = Services.open(settings)
    try:
        if args.retry:
            result = services.inbox.retry_deadletter(args.retry)
            print(f"re-queued {result.accepted}, still invalid {len(result.rejected)}")
            return 0
        items = services.inbox.deadletters(args.limit)
        print(f"{services.inbox.deadletter_count()} dead letters")
        for it in items:
            print(f"#{it['id']} [{it['stage']}/{it['origin']}] {it['reason']}")
        return 0
    finally:
        services.close()


def register(sub) -> None:
    p = sub.add_parser("ingest", help="queue posts from a JSONL file (or - for stdin)")
    p.add_argument("file")
    p.add_argument(
        "--no-wait", action="store_true", help="only queue; leave processing to the running service"
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="full-text search with filters")
    p.add_argument("query", nargs="?", default=None)
    _add_filter_args(p)
    p.add_argument("--sort", choices=["time", "relevance", "engagement"], default="time")
    p.add_argument("--size", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("stats", help="timeline, breakdown or keywords")
    p.add_argument("kind", choices=["timeline", "breakdown", "keywords"])
    _add_filter_args(p)
    p.add_argument("--interval", choices=["hour", "day"], default="day")
    p.add_argument("--split")
    p.add_argument("--field", default="street")
    p.add_argument("--size", type=int, default=20)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("deadletters", help="list (or --retry ID…) rejected records")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--retry", type=int, nargs="+")
    p.set_defaults(func=cmd_deadletters)
