"""Embedded store at 200k and 1M posts: ingest rate, search and breakdown latency, size, memory.

Ingest is measured twice: straight into the store (``upsert`` of 1,000-post batches) and the
whole durable path (inbox → processor with the default keywords-only pipeline → store).
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.synthetic import synthetic_posts
from store.base import Filters, SearchQuery
from store.sqlite import SqliteStore

QUERIES = [
    "物业 电梯",
    "暖气 不热",
    "拖欠 工资",
    "噪音 施工",
    "停水 通知",
    "占道 经营",
    "拆迁 补偿",
    "路灯 修好",
]


def _pcts(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50_ms": round(statistics.median(s) * 1000, 2),
        "p95_ms": round(s[int(len(s) * 0.95) - 1] * 1000, 2),
    }


def _one(n: int, workdir: Path) -> dict:
    store = SqliteStore(workdir / f"store-{n}.db")
    now = datetime.now(UTC)
    batch, ingest_s = [], 0.0
    for p in synthetic_posts(n, now=now):  # generation is not timed, only the upserts
        batch.append(p)
        if len(batch) == 1000:
            t0 = time.perf_counter()
            store.upsert(batch)
            ingest_s += time.perf_counter() - t0
            batch = []
    t0 = time.perf_counter()
    store.upsert(batch)
    ingest_s += time.perf_counter() - t0
    store.conn.execute("PRAGMA optimize")
    week = Filters(since=now - timedelta(days=7))
    search_t = []
    for _ in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            store.search(SearchQuery(q=q, filters=week, size=20))
            search_t.append(time.perf_counter() - t)
    t = time.perf_counter()
    store.timeline(
        week, interval="hour", split="grid_id"
    )  # first read builds the closed-hour cache
    grid_hour_first_ms = round((time.perf_counter() - t) * 1000, 1)
    grid_hour_t = []
    for _ in range(5):
        t = time.perf_counter()
        store.timeline(week, interval="hour", split="grid_id")
        grid_hour_t.append(time.perf_counter() - t)
    grid_t = []
    for _ in range(5):
        t = time.perf_counter()
        store.breakdown(week, "grid_id", size=5000)
        grid_t.append(time.perf_counter() - t)
    size_mb = sum(f.stat().st_size for f in workdir.glob(f"store-{n}.db*")) / 1e6
    store.close()
    return {
        "posts": n,
        "ingest_posts_per_s": round(n / ingest_s),
        "search_2words_7d_top20": _pcts(search_t),
        "grid_x_hour_7d_first_read_ms": grid_hour_first_ms,
        "grid_x_hour_7d": _pcts(grid_hour_t),
        "grid_breakdown_7d": _pcts(grid_t),
        "db_mb": round(size_mb, 1),
    }


def _pipeline_path(n: int, workdir: Path) -> dict:
    """Inbox → processor (keywords pipeline) → store, the way posts really arrive."""
    from core.config import Settings
    from core.services import Services

    settings = Settings(data_dir=str(workdir / "svc"), pipeline={"components": []})
    svc = Services.open(settings)
    posts = [
        p.model_dump(mode="json", exclude={"sentiment", "category", "risk", "geo", "keywords"})
        for p in synthetic_posts(n)
    ]
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        svc.inbox.put(posts[i : i + 1000], origin="bench")
    put_s = time.perf_counter() - t0
    proc = svc.make_processor()
    proc.batch_size = 1000
    t1 = time.perf_counter()
    proc.drain()
    proc_s = time.perf_counter() - t1
    svc.close()
    return {
        "posts": n,
        "inbox_put_per_s": round(n / put_s),
        "process_to_store_per_s": round(n / proc_s),
        "end_to_end_per_s": round(n / (put_s + proc_s)),
    }


def run(args) -> dict:
    sizes = [20_000] if args.quick else [200_000, 1_000_000]
    if getattr(args, "sizes", None):
        sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="yq-bench-") as d:
        results = [_one(n, Path(d)) for n in sizes]
        path = _pipeline_path(20_000 if args.quick else 100_000, Path(d))
    return {
        "store": results,
        "durable_path": path,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": "ingest ≥ 5,000/s; search p95 ≤ 50 ms at 1M; grid×hour p95 ≤ 200 ms at 1M",
    }
