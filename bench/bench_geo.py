"""Geotagging speed: 1M coordinates into the sample layer, and text geotagging in posts/s.

``python -m bench --only geo [--quick]``. Targets (issue 5): 1M points ≤ 3 s, text ≥ 20,000
posts/s. Medians of 3 runs; the text set is the demo generator's posts (real street and
community names, hotline addresses) so the matcher does realistic work.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(args) -> dict:
    from core.demo import generate_demo_posts
    from core.schema import Post
    from geo.service import GeoService

    quick = bool(getattr(args, "quick", False))
    n_points = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        from core.config import Settings

        settings = Settings(data_dir=str(Path(tmp) / "var"))
        svc = GeoService(settings)
        t0 = time.perf_counter()
        svc.ensure_sample_layer()
        tagger = svc.tagger()
        build_s = time.perf_counter() - t0
        minx, miny, maxx, maxy = tagger.index.bounds
        rng = np.random.default_rng(1)
        lon = rng.uniform(minx, maxx, n_points)
        lat = rng.uniform(miny, maxy, n_points)
        hits = tagger.index.locate(lon, lat)
        located = int((hits.basic >= 0).sum())
        points_s = _median(lambda: tagger.index.locate(lon, lat))
        gcj_s = _median(lambda: tagger.locate_points(lon[:100_000], lat[:100_000], "gcj02"), 3)

        records = generate_demo_posts(n=2400 if quick else 4800)
        texts = [(r["text"], r.get("address"), r.get("author_location")) for r in records]
        reps = 2 if quick else 5
        corpus = texts * reps

        def tag_all():
            for text, address, loc in corpus:
                tagger.tag_fields(text, address, loc)

        text_s = _median(tag_all)
        posts = [Post.model_validate(r) for r in records]
        posts_s = _median(lambda: tagger.tag_posts(posts))
        levels: dict[str, int] = {}
        for g in tagger.tag_posts(posts):
            levels[g.level] = levels.get(g.level, 0) + 1
        svc.close()
    return {
        "grids": len(tagger.index.basic) + len(tagger.index.special),
        "build_ms": round(build_s * 1000),
        "points": n_points,
        "points_seconds": round(points_s, 3),
        "points_per_s": round(n_points / points_s),
        "points_located_share": round(located / n_points, 3),
        "gcj02_100k_seconds_incl_conversion": round(gcj_s, 3),
        "text_posts": len(corpus),
        "text_posts_per_s": round(len(corpus) / text_s),
        "post_objects_per_s": round(len(posts) / posts_s),
        "demo_levels": levels,
        "targets": {"points_1m_seconds": 3.0, "text_posts_per_s": 20_000},
    }
