"""NLP chain throughput and event clustering cost as the stream grows.

1. Enrichment throughput of the chain (sentiment if a model is promoted, keywords, category,
   risk, dedup, events) over the synthetic demo stream, in processor-sized batches of 256,
   without a store (pure enrichment). Median of 3 runs, each on a freshly built pipeline.
   Target: ≥ 150 posts/s on this machine (2 cores; one is used).
2. Event clustering (the ``events`` component alone) over a 100k-post synthetic stream of 30
   days: µs per post for each 10k slice, open events and the events created, so the cost's
   growth with stream size is visible.
"""

from __future__ import annotations

import resource
import statistics
import time
from datetime import UTC, datetime

from core.config import load_settings
from core.demo import generate_demo_posts
from core.pipeline import Context, PipelineError, build_pipeline
from core.schema import Post

CHAIN = ["keywords", "category", "risk", "dedup", "events"]


def _chain_names(settings) -> tuple[list[str], str]:
    try:
        build_pipeline(Context(settings, None), ["sentiment"])
        return ["keywords", "sentiment", *CHAIN[1:]], "included"
    except PipelineError as exc:
        return CHAIN, f"not included: {exc}"


def _throughput(settings, names: list[str], posts: list[Post], runs: int = 3) -> dict:
    rates, per_component = [], {n: [] for n in names}
    for _ in range(runs):
        pipe = build_pipeline(Context(settings, None), names)
        batch = [p.model_copy(deep=True) for p in posts]
        comp_s = dict.fromkeys(names, 0.0)
        start = time.perf_counter()
        for i in range(0, len(batch), 256):
            chunk = batch[i : i + 256]
            for comp in pipe.components:
                t = time.perf_counter()
                chunk = comp(chunk)
                comp_s[comp.name] += time.perf_counter() - t
        rates.append(len(batch) / (time.perf_counter() - start))
        for n, s in comp_s.items():
            per_component[n].append(s / len(batch) * 1e3)
    return {
        "posts": len(posts),
        "posts_per_s_median": round(statistics.median(rates), 1),
        "posts_per_s_runs": [round(r, 1) for r in rates],
        "ms_per_post_by_component": {
            n: round(statistics.median(v), 3) for n, v in per_component.items()
        },
    }


def _clustering_growth(settings, n: int, slice_n: int) -> list[dict]:
    from bench.synthetic import synthetic_posts

    pipe = build_pipeline(Context(settings, None), ["events"])
    comp = pipe.components[0]
    posts = sorted(synthetic_posts(n, days=30, seed=11), key=lambda p: p.published_ts)
    out, made = [], set()
    for i in range(0, len(posts), slice_n):
        chunk = posts[i : i + slice_n]
        start = time.perf_counter()
        for j in range(0, len(chunk), 256):
            comp(chunk[j : j + 256])
        dt = time.perf_counter() - start
        made |= {p.event_id for p in chunk}
        out.append(
            {
                "posts_seen": i + len(chunk),
                "us_per_post": round(dt / len(chunk) * 1e6, 1),
                "open_events": len(comp.clusterer.open),
                "events_created": len(made),
            }
        )
    return out


def run(args) -> dict:
    settings = load_settings(environ={})
    names, sentiment = _chain_names(settings)
    n_demo = 1200 if args.quick else 2400
    posts = [Post.model_validate(r) for r in generate_demo_posts(n=n_demo, now=datetime.now(UTC))]
    chain = _throughput(settings, names, posts, runs=1 if args.quick else 3)
    growth = _clustering_growth(
        settings, 10_000 if args.quick else 100_000, 2_000 if args.quick else 10_000
    )
    return {
        "chain": names,
        "sentiment": sentiment,
        "throughput": chain,
        "event_clustering": growth,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": "chain ≥ 150 posts/s; clustering cost per post flat as the stream grows",
    }
