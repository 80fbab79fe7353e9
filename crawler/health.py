"""Per-source crawl health in ``app_db``: last start/success/error, items per run and per day.

``source_health(conn)`` is what the API (``GET /api/v1/sources``), the metrics and the alert
engine's "source went silent" (flatline) rule read.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from prometheus_client import Counter, Gauge

from core.db import Tx
from core.metrics import REGISTRY

SCHEMA = """
CREATE TABLE IF NOT EXISTS crawl_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  spider TEXT,
  started REAL NOT NULL,
  finished REAL,
  ok INTEGER,
  items INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  pages INTEGER NOT NULL DEFAULT 0,
  errors TEXT NOT NULL DEFAULT '{}',
  message TEXT
);
CREATE INDEX IF NOT EXISTS crawl_runs_source ON crawl_runs(source, started);
"""

RUNS = Counter(
    "yuqing_crawl_runs_total", "Crawl runs per source", ["source", "outcome"], registry=REGISTRY
)
ERRORS = Counter(
    "yuqing_crawl_errors_total",
    "Crawl errors per source and kind",
    ["source", "kind"],
    registry=REGISTRY,
)
ITEMS = Counter(
    "yuqing_crawl_items_total", "Items put into the inbox per source", ["source"], registry=REGISTRY
)
LAST_SUCCESS = Gauge(
    "yuqing_crawl_last_success_timestamp",
    "Unix time of the last successful run",
    ["source"],
    registry=REGISTRY,
)
ITEMS_LAST_RUN = Gauge(
    "yuqing_crawl_items_last_run", "Items of the last finished run", ["source"], registry=REGISTRY
)
ITEMS_24H = Gauge(
    "yuqing_crawl_items_24h", "Items over the last 24 hours", ["source"], registry=REGISTRY
)

KEEP_RUNS_DAYS = 30


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def record_start(
    conn: sqlite3.Connection, source: str, spider: str, started: float | None = None
) -> int:
    ensure_schema(conn)
    with Tx(conn):
        cur = conn.execute(
            "INSERT INTO crawl_runs(source, spider, started) VALUES (?,?,?)",
            (source, spider, started or time.time()),
        )
    return int(cur.lastrowid)


def record_finish(
    conn: sqlite3.Connection,
    run_id: int,
    *,
    ok: bool,
    items: int,
    rejected: int,
    pages: int,
    errors: dict[str, int],
    message: str | None,
    finished: float | None = None,
) -> None:
    finished = finished or time.time()
    with Tx(conn):
        row = conn.execute(
            "UPDATE crawl_runs SET finished=?, ok=?, items=?, rejected=?, pages=?, errors=?, message=? "
            "WHERE id=? RETURNING source",
            (finished, int(ok), items, rejected, pages, json.dumps(errors), message, run_id),
        ).fetchone()
        conn.execute(
            "DELETE FROM crawl_runs WHERE started < ?", (finished - KEEP_RUNS_DAYS * 86400,)
        )
    if row is None:
        return
    source = row[0]
    RUNS.labels(source, "ok" if ok else "error").inc()
    ITEMS.labels(source).inc(items)
    for kind, n in errors.items():
        ERRORS.labels(source, kind).inc(n)
    refresh_gauges(conn, [source])


def source_health(
    conn: sqlite3.Connection, sources: list[str] | None = None, now: float | None = None
) -> list[dict[str, Any]]:
    """One dict per source that ever ran (plus ``sources`` that never did), newest facts first.

    Keys: source, spider, last_start, last_finish, last_success, last_error, last_error_at,
    running, items_last_run, items_24h, rejected_24h, runs_24h, failures_24h, errors_last_run,
    errors_24h (by kind). Times are Unix seconds (None when never).
    """
    ensure_schema(conn)
    now = now or time.time()
    day = now - 86400
    names = [r[0] for r in conn.execute("SELECT DISTINCT source FROM crawl_runs ORDER BY source")]
    for s in sources or []:
        if s not in names:
            names.append(s)
    out = []
    for name in names:
        last = conn.execute(
            "SELECT * FROM crawl_runs WHERE source=? ORDER BY started DESC LIMIT 1", (name,)
        ).fetchone()
        last_done = conn.execute(
            "SELECT * FROM crawl_runs WHERE source=? AND finished IS NOT NULL ORDER BY finished DESC LIMIT 1",
            (name,),
        ).fetchone()
        ok = conn.execute(
            "SELECT MAX(finished) FROM crawl_runs WHERE source=? AND ok=1", (name,)
        ).fetchone()[0]
        err = conn.execute(
            "SELECT finished, message FROM crawl_runs WHERE source=? AND ok=0 ORDER BY finished DESC LIMIT 1",
            (name,),
        ).fetchone()
        agg = conn.execute(
            "SELECT COALESCE(SUM(items),0), COALESCE(SUM(rejected),0), COUNT(*), "
            "COALESCE(SUM(CASE WHEN ok=0 THEN 1 ELSE 0 END),0) FROM crawl_runs "
            "WHERE source=? AND finished IS NOT NULL AND finished >= ?",
            (name, day),
        ).fetchone()
        errors_24h: dict[str, int] = {}
        for (errs,) in conn.execute(
            "SELECT errors FROM crawl_runs WHERE source=? AND finished >= ?", (name, day)
        ):
            for k, v in json.loads(errs or "{}").items():
                errors_24h[k] = errors_24h.get(k, 0) + int(v)
        out.append(
            {
                "source": name,
                "spider": last["spider"] if last else None,
                "last_start": last["started"] if last else None,
                "last_finish": last_done["finished"] if last_done else None,
                "running": bool(last and last["finished"] is None),
                "last_success": ok,
                "last_error": err["message"] if err else None,
                "last_error_at": err["finished"] if err else None,
                "items_last_run": last_done["items"] if last_done else 0,
                "pages_last_run": last_done["pages"] if last_done else 0,
                "errors_last_run": json.loads(last_done["errors"]) if last_done else {},
                "items_24h": int(agg[0]),
                "rejected_24h": int(agg[1]),
                "runs_24h": int(agg[2]),
                "failures_24h": int(agg[3]),
                "errors_24h": errors_24h,
            }
        )
    return out


def refresh_gauges(conn: sqlite3.Connection, sources: list[str] | None = None) -> None:
    for h in source_health(conn, sources):
        if sources and h["source"] not in sources:
            continue
        if h["last_success"]:
            LAST_SUCCESS.labels(h["source"]).set(h["last_success"])
        ITEMS_LAST_RUN.labels(h["source"]).set(h["items_last_run"])
        ITEMS_24H.labels(h["source"]).set(h["items_24h"])


def close_orphans(conn: sqlite3.Connection) -> int:
    """Runs left open by a killed service are closed as failed on the next start."""
    ensure_schema(conn)
    with Tx(conn):
        cur = conn.execute(
            "UPDATE crawl_runs SET finished=?, ok=0, message='interrupted (service stopped)' "
            "WHERE finished IS NULL",
            (time.time(),),
        )
    return cur.rowcount
