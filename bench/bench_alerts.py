"""Alert engine: match-rule latency and window-rule evaluation time.

1. Latency: a stream of 10,000 posts/min goes into the inbox (``Inbox.put`` = accepted); the
   processor runs the pipeline, the store upsert and the engine's match listener; 1 % of posts
   are critical-risk, each in its own grid, so each yields one alert and one mail. Latency is
   accepted → received by a local aiosmtpd server (p50/p95).
2. Window rules: 50 rules (spike / negative share / emerging event / flatline / relapse) over
   1,200 grids evaluated once at N stored posts (default 200,000; ``--alerts-posts 1000000``
   for the full size, ``--quick`` 20,000).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from alerts.engine import Engine
from alerts.mailcatcher import MailCatcher
from alerts.routing import import_contacts
from bench.synthetic import synthetic_posts
from core.config import load_settings
from core.queue import Inbox
from core.services import Services


def _settings(workdir: Path, smtp_port: int, rules: list[dict]):
    data = {
        "data_dir": str(workdir / "var"),
        "pipeline": {"components": ["keywords"]},
        "alerts": {
            "rules": rules,
            "routes": [
                {
                    "name": "all",
                    "levels": ["grid", "district"],
                    "channels": ["email"],
                    "group_by": ["id"],
                    "group_wait": 0,
                    "group_interval": 0,
                }
            ],
            "channels": {"email": {"port": smtp_port}},
            "escalation": {"enabled": False},
        },
    }
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "yuqing.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(cfg, environ={})


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def bench_latency(workdir: Path, seconds: float, rate_per_min: int = 10_000) -> dict:
    rules = [
        {
            "name": "crit",
            "type": "match",
            "severity": "critical",
            "filter": {"risk": ["critical"]},
            "key": "grid_id",
        }
    ]
    with MailCatcher() as catcher:
        settings = _settings(workdir, catcher.port, rules)
        services = Services.open(settings)
        engine = Engine(settings, services.store)
        import_contacts(
            engine.conn,
            [{"name": "值班室", "level": "district", "email": "duty@example.com"}],
            "bench",
            "bench",
        )
        # the ingest side has its own inbox connection, like the API or another process:
        # one sqlite3 connection must not be shared by a putting and a claiming thread
        ingest = Inbox(settings.path(settings.queue.path), settings.queue.max_attempts)
        proc = services.make_processor()
        proc.add_listener(engine.on_posts)
        engine.start(window=False)
        proc.start()
        accepted: dict[str, float] = {}
        n_total = int(rate_per_min * seconds / 60)
        tick = 0.5
        per_tick = max(1, int(rate_per_min / 60 * tick))
        gen = synthetic_posts(n_total, days=1, now=datetime.now(UTC))
        sent, i, t0 = 0, 0, time.time()
        try:
            while sent < n_total:
                batch = []
                for _ in range(min(per_tick, n_total - sent)):
                    p = next(gen).model_dump(mode="json")
                    p["id"] = f"lat:{i}"
                    p["published_at"] = datetime.now(UTC).isoformat()
                    crit = i % 100 == 0
                    p["risk"] = {"level": "critical" if crit else "none"}
                    if crit:
                        p["geo"]["grid_id"] = f"L{i:07d}"
                    batch.append((p, crit))
                    i += 1
                res = ingest.put([b[0] for b in batch], origin="bench")
                now = time.time()
                for p, crit in batch:
                    if crit:
                        accepted[p["geo"]["grid_id"]] = now
                sent += res.accepted
                time.sleep(max(0.0, t0 + (sent / (rate_per_min / 60)) - time.time()))
            catcher.wait_for(len(accepted), timeout=60)
        finally:
            proc.stop()
            engine.stop()
            ingest.close()
            services.close()
        lat = []
        for msg, at in zip(catcher.messages, catcher.received_at, strict=True):
            m = re.search(r"「(L\d{7})」", str(msg["Subject"]))
            if m and m.group(1) in accepted:
                lat.append(at - accepted[m.group(1)])
    return {
        "posts": n_total,
        "rate_per_min": rate_per_min,
        "stream_seconds": round(time.time() - t0, 1),
        "alerts_expected": len(accepted),
        "mails_received": len(lat),
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(_pct(lat, 0.95), 3) if lat else None,
        "latency_max_s": round(max(lat), 3) if lat else None,
    }


def window_rules() -> list[dict]:
    cats = [
        "property",
        "noise",
        "traffic",
        "wages",
        "utilities",
        "environment",
        "housing",
        "urban_management",
        "education",
        "health",
    ]
    rules: list[dict] = []
    for i in range(20):
        rules.append(
            {
                "name": f"spike{i}",
                "type": "spike",
                "key": "grid_id",
                "window": "3h",
                "filter": {"category": [cats[i % 10]]} if i >= 2 else {},
                "baseline": "hour_of_week" if i % 2 == 0 else "ewma",
                "min_count": 5,
            }
        )
    for i in range(10):
        rules.append(
            {
                "name": f"neg{i}",
                "type": "negative_share",
                "key": "street" if i % 2 else "grid_id",
                "window": "6h",
                "filter": {"category": [cats[i]]} if i >= 2 else {},
            }
        )
    for i in range(10):
        rules.append(
            {
                "name": f"event{i}",
                "type": "emerging_event",
                "window": "3h",
                "filter": {"category": [cats[i]]} if i else {},
            }
        )
    for i in range(5):
        rules.append(
            {
                "name": f"flat{i}",
                "type": "flatline",
                "key": "source_type" if i % 2 else "source",
                "period": "6h",
            }
        )
    for i in range(5):
        rules.append(
            {
                "name": f"relapse{i}",
                "type": "relapse",
                "key": ["event_id", "grid_id", "street", "community", "category"][i],
            }
        )
    return rules


def bench_windows(workdir: Path, n_posts: int) -> dict:
    settings = _settings(workdir, 1, window_rules())
    services = Services.open(settings)
    try:
        t0 = time.time()
        batch = []
        for p in synthetic_posts(n_posts, days=30, grids=1200):
            batch.append(p)
            if len(batch) == 2000:
                services.store.upsert(batch)
                batch = []
        services.store.upsert(batch)
        load_s = time.time() - t0
        engine = Engine(settings, services.store)
        times, fired = [], 0
        for _ in range(3):
            t = time.perf_counter()
            out = engine.evaluate_windows()
            times.append(time.perf_counter() - t)
            fired += out["fired"]
            assert not out["errors"], out["errors"]
        return {
            "posts": n_posts,
            "rules": len(window_rules()),
            "grids": 1200,
            "load_seconds": round(load_s, 1),
            "evaluation_s_median": round(statistics.median(times), 3),
            "evaluation_s_runs": [round(x, 3) for x in times],
            "alerts_fired_first_run": fired,
        }
    finally:
        services.close()


def run(args) -> dict:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--alerts-posts", type=int)
    extra.add_argument("--alerts-seconds", type=float)
    ns, _ = extra.parse_known_args()
    quick = getattr(args, "quick", False)
    n_posts = ns.alerts_posts or (20_000 if quick else 200_000)
    seconds = ns.alerts_seconds or (10.0 if quick else 60.0)
    with tempfile.TemporaryDirectory() as d:
        latency = bench_latency(Path(d) / "lat", seconds)
    with tempfile.TemporaryDirectory() as d:
        windows = bench_windows(Path(d) / "win", n_posts)
    return {"match_latency": latency, "window_rules": windows}


if __name__ == "__main__":
    import json
    import sys

    ns = argparse.Namespace(quick="--quick" in sys.argv)
    print(json.dumps(run(ns), ensure_ascii=False, indent=1))
