"""Synthetic posts at scale for benchmarks: varied Chinese text over 1,200 grids and 30 days."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from core.demo import COMPOUNDS, ROADS, TEMPLATES, _divisions
from core.schema import SHANGHAI, Post

CATEGORIES = sorted({c for c, _, _ in TEMPLATES})


def synthetic_posts(
    n: int, days: int = 30, grids: int = 1200, seed: int = 7, now: datetime | None = None
):
    """Yield ``n`` enriched-looking posts (sentiment/category/geo filled) without running models."""
    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    comms = _divisions()
    streets = [s for s in comms if comms[s]]
    grid_ids = [f"G{i:04d}" for i in range(grids)]
    grid_home = {
        g: (
            streets[i % len(streets)],
            comms[streets[i % len(streets)]][i % len(comms[streets[i % len(streets)]])],
        )
        for i, g in enumerate(grid_ids)
    }
    types = ["microblog", "forum", "news", "hotline", "petition", "message_board"]
    for i in range(n):
        cat, sent, tpl = TEMPLATES[rnd.randrange(len(TEMPLATES))]
        g = grid_ids[rnd.randrange(grids)]
        street, comm = grid_home[g]
        r1, r2 = rnd.sample(ROADS, 2)
        text = tpl.format(
            s=street, c=comm, x=rnd.choice(COMPOUNDS), r=r1, r2=r2, n=rnd.randint(2, 15)
        )
        if rnd.random() < 0.3:
            text += "。" + TEMPLATES[rnd.randrange(len(TEMPLATES))][2].format(
                s=street, c=comm, x=rnd.choice(COMPOUNDS), r=r2, r2=r1, n=3
            )
        yield Post(
            id=f"bench:{i}",
            source="weibo" if i % 3 else "hotline-12345",
            source_type=types[i % len(types)],
            text=text,
            published_at=(now - timedelta(seconds=rnd.randrange(days * 86400))).astimezone(
                SHANGHAI
            ),
            engagement={"likes": rnd.randrange(200), "comments": rnd.randrange(20)},
            sentiment={"label": sent, "score": 0.9},
            category={"label": cat},
            risk={"level": "critical" if rnd.random() < 0.01 else "none"},
            geo={
                "grid_id": g,
                "community": comm,
                "street": street,
                "district": "历城区",
                "level": "grid",
            },
            keywords=[w for w in ("物业", "停水", "暖气", "噪音", "拆迁", "欠薪") if w in text][:3],
        )
