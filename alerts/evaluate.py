"""Window rules over the store: spike, negative_share, emerging_event, flatline, relapse.

Evaluation is stateless (everything is recomputed from stored posts and the alert table for a
given ``now``), so a restart resumes exactly and ``yuqing rules backtest`` replays the live logic.
Grid counts are small, so spikes are judged by a Poisson or negative-binomial tail probability
against an hour-of-week baseline (falling back to an EWMA of the preceding windows until a week
of history exists), never by a z-score.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scipy import stats

from alerts.config import (
    EmergingEventRule,
    FlatlineRule,
    NegativeShareRule,
    RelapseRule,
    SpikeRule,
)
from alerts.render import KEY_ZH
from alerts.rules import rule_filters, store_query
from core.schema import Post
from store.base import Filters, SearchQuery, Store

WEEK = 7 * 86400.0
SHRINK = 20.0  # pseudo-posts pulling a key's negative share toward the global share


@dataclass
class Candidate:
    key: str
    title: str
    summary: str
    observed: float
    baseline: float | None = None
    probability: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    relapse_of: int | None = None
    event_id: str | None = None


def dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def earliest(store: Store) -> float | None:
    """Time of the oldest stored post (baseline windows before it are missing, not zero)."""
    fn = getattr(store, "earliest", None)
    if callable(fn):
        v = fn()
        return v.timestamp() if isinstance(v, datetime) else v
    buckets = store.timeline(Filters(), interval="day")
    return buckets[0].t.timestamp() if buckets else None


def _counts(
    store: Store, rule, since: float, until: float, keys: list[str] | None = None
) -> dict[str, tuple[int, int]]:
    f = rule_filters(rule, dt(since), dt(until))
    if keys is not None:
        existing = getattr(f, rule.key)
        allowed = [k for k in keys if not existing or k in existing]
        if not allowed:
            return {}
        f = f.model_copy(update={rule.key: allowed})
    size = 5000 if keys is None else max(1, len(keys))
    return {
        b.key: (b.count, b.negative)
        for b in store.breakdown(f, rule.key, size=size, q=store_query(rule))
    }


def tail_probability(observed: int, mean: float, var: float | None, test: str) -> float:
    """P(X >= observed) under Poisson(mean), or NB with the given variance when overdispersed."""
    if observed <= 0:
        return 1.0
    if test == "negbin" and var is not None and var > mean * 1.05:
        r = mean * mean / (var - mean)
        p = r / (r + mean)
        return float(stats.nbinom.sf(observed - 1, r, p))
    return float(stats.poisson.sf(observed - 1, mean))


def _ewma(xs: list[int], alpha: float) -> tuple[float, float]:
    m, v = float(xs[0]), 0.0
    for x in xs[1:]:
        d = x - m
        m += alpha * d
        v = (1 - alpha) * (v + alpha * d * d)
    return m, v


def eval_spike(rule: SpikeRule, store: Store, now: float, start: float | None) -> list[Candidate]:
    w = rule.window
    cur = {k: c for k, (c, _) in _counts(store, rule, now - w, now).items() if c >= rule.min_count}
    if not cur:
        return []
    keys = sorted(cur)
    history: dict[str, list[int]] = {k: [] for k in keys}
    method = rule.baseline
    if rule.baseline == "hour_of_week":
        covered = [
            k for k in range(1, rule.weeks + 1) if start is not None and start <= now - w - k * WEEK
        ]
        for k in covered:
            got = _counts(store, rule, now - w - k * WEEK, now - k * WEEK, keys)
            for key in keys:
                history[key].append(got.get(key, (0, 0))[0])
        if not covered:
            method = "ewma"
    if method == "ewma":
        n = rule.ewma_windows
        if start is not None:
            n = min(n, int((now - w - start) // w))
        if n < 2:
            return []  # not enough history to judge anything yet
        for i in range(n, 0, -1):
            got = _counts(store, rule, now - w - i * w, now - i * w, keys)
            for key in keys:
                history[key].append(got.get(key, (0, 0))[0])
    out = []
    for key in keys:
        xs = history[key]
        if method == "ewma":
            mean, var = _ewma(xs, rule.ewma_alpha)
        else:
            mean = sum(xs) / len(xs)
            var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else None
        mu = max(mean, rule.baseline_floor)
        c = cur[key]
        if c < rule.min_ratio * mu:
            continue
        p = tail_probability(c, mu, var, rule.test)
        if p >= rule.p_value:
            continue
        hours = w / 3600
        out.append(
            Candidate(
                key=key,
                title=f"{KEY_ZH.get(rule.key, rule.key)}「{key}」{hours:g} 小时内信息量激增",
                summary=f"近 {hours:g} 小时 {c} 条，基线 {mu:.1f} 条（{'同时段近' + str(len(xs)) + '周' if method == 'hour_of_week' else 'EWMA'}），p={p:.2g}",
                observed=c,
                baseline=round(mu, 3),
                probability=p,
                details={"method": method, "history": xs, "variance": var, "window_s": w},
            )
        )
    return out


def eval_negative_share(rule: NegativeShareRule, store: Store, now: float) -> list[Candidate]:
    w = rule.window
    cur = {k: v for k, v in _counts(store, rule, now - w, now).items() if v[0] >= rule.min_count}
    if not cur:
        return []
    keys = sorted(cur)
    base = _counts(store, rule, now - w - rule.baseline_period, now - w, keys)
    f = rule_filters(rule, dt(now - w - rule.baseline_period), dt(now - w))
    total = store.count(f, q=store_query(rule))
    neg = store.count(f.model_copy(update={"sentiment": ["negative"]}), q=store_query(rule))
    global_share = (neg + 1) / (total + 2)
    out = []
    for key in keys:
        n, k = cur[key]
        bn, bk = base.get(key, (0, 0))
        expected = (bk + SHRINK * global_share) / (bn + SHRINK)
        share = k / n
        if share < expected + rule.margin:
            continue
        p = float(stats.binom.sf(k - 1, n, expected))
        if p >= rule.p_value:
            continue
        out.append(
            Candidate(
                key=key,
                title=f"{KEY_ZH.get(rule.key, rule.key)}「{key}」负面情绪占比升高",
                summary=f"近 {w / 3600:g} 小时 {n} 条中负面 {k} 条（{share:.0%}），基线 {expected:.0%}，p={p:.2g}",
                observed=round(share, 4),
                baseline=round(expected, 4),
                probability=p,
                details={
                    "count": n,
                    "negative": k,
                    "baseline_count": bn,
                    "global_share": global_share,
                },
            )
        )
    return out


def _event_title(store: Store, event_id: str) -> str | None:
    get_event = getattr(store, "get_event", None)
    if callable(get_event):
        try:
            ev = get_event(event_id)
        except Exception:
            ev = None
        if ev is not None:
            for attr in ("title", "name", "label"):
                v = ev.get(attr) if isinstance(ev, dict) else getattr(ev, attr, None)
                if v:
                    return str(v)
    return None


def eval_emerging(rule: EmergingEventRule, store: Store, now: float) -> list[Candidate]:
    w = rule.window
    cur = {k: c for k, (c, _) in _counts(store, rule, now - w, now).items() if c >= rule.min_count}
    if not cur:
        return []
    keys = sorted(cur)
    prev = _counts(store, rule, now - 2 * w, now - w, keys)
    out = []
    for key in keys:
        c, before = cur[key], prev.get(key, (0, 0))[0]
        growth = c / max(before, 1)
        reasons = []
        if growth >= rule.growth:
            reasons.append(f"增速 {growth:.1f} 倍（前一时段 {before} 条）")
        spread_to: list[str] = []
        if rule.spread:
            ef = Filters(event_id=[key])
            for fld in ("source_type", "source"):
                old = {
                    b.key
                    for b in store.breakdown(
                        ef.model_copy(update={"until": dt(now - w), "since": dt(now - WEEK)}), fld
                    )
                }
                new = {
                    b.key
                    for b in store.breakdown(ef.model_copy(update={"since": dt(now - w)}), fld)
                }
                if old and new - old:
                    spread_to += sorted(new - old)
            if spread_to:
                reasons.append("扩散到新的来源/平台：" + "、".join(spread_to[:5]))
        if not reasons:
            continue
        title = _event_title(store, key) or key
        out.append(
            Candidate(
                key=key,
                title=f"事件「{title}」正在发酵",
                summary=f"近 {w / 3600:g} 小时 {c} 条；" + "；".join(reasons),
                observed=c,
                baseline=float(before),
                details={"growth": growth, "spread_to": spread_to},
                event_id=key,
            )
        )
    return out


def eval_flatline(
    rule: FlatlineRule, store: Store, now: float, health: dict[str, Any] | None = None
) -> list[Candidate]:
    past = _counts(store, rule, now - rule.lookback, now - rule.period)
    span = max(rule.lookback - rule.period, 1.0)
    expected = {k: c * rule.period / span for k, (c, _) in past.items()}
    judged = [k for k, e in expected.items() if e >= rule.min_expected]
    if not judged:
        return []
    recent = _counts(store, rule, now - rule.period, now, judged)
    out = []
    for key in sorted(judged):
        c = recent.get(key, (0, 0))[0]
        if c >= rule.threshold:
            continue
        p = float(stats.poisson.cdf(c, expected[key]))
        info = (health or {}).get(key)
        out.append(
            Candidate(
                key=key,
                title=f"{KEY_ZH.get(rule.key, rule.key)}「{key}」已 {rule.period / 3600:g} 小时无数据",
                summary=f"近 {rule.period / 3600:g} 小时 {c} 条，通常约 {expected[key]:.1f} 条（可能采集中断）",
                observed=c,
                baseline=round(expected[key], 3),
                probability=p,
                details={"crawler_health": info} if info else {},
            )
        )
    return out


def eval_relapse(
    rule: RelapseRule, store: Store, conn: sqlite3.Connection, now: float
) -> list[Candidate]:
    since = now - rule.days * 86400
    q = """SELECT key, MAX(resolved_at) AS resolved_at, MAX(id) AS last_id FROM alerts
           WHERE key_field=? AND status IN ('resolved','revisited') AND resolved_at>=?"""
    params: list[Any] = [rule.key, since]
    if rule.watch_rules:
        q += f" AND rule IN ({','.join('?' * len(rule.watch_rules))})"
        params += rule.watch_rules
    q += " GROUP BY key"
    out = []
    for r in conn.execute(q, params).fetchall():
        # the latest resolution of anything on this key (a resolved relapse alert included)
        latest = conn.execute(
            """SELECT MAX(resolved_at) FROM alerts WHERE key_field=? AND key=?
               AND status IN ('resolved','revisited')""",
            (rule.key, r["key"]),
        ).fetchone()[0]
        if conn.execute(
            "SELECT 1 FROM alerts WHERE rule=? AND key=? AND status IN ('firing','acknowledged','dispatched')",
            (rule.name, r["key"]),
        ).fetchone():
            continue  # already open: refreshed below by the engine's dedup
        f = rule_filters(rule, dt(latest), dt(now)).model_copy(update={rule.key: [r["key"]]})
        n = store.count(f, q=store_query(rule))
        if n < rule.min_count:
            continue
        out.append(
            Candidate(
                key=r["key"],
                title=f"{KEY_ZH.get(rule.key, rule.key)}「{r['key']}」办结后复燃",
                summary=f"预警 {r['last_id']} 办结后又出现 {n} 条相关信息",
                observed=n,
                details={"resolved_at": latest, "original_alert": r["last_id"]},
                relapse_of=int(r["last_id"]),
                event_id=r["key"] if rule.key == "event_id" else None,
            )
        )
    return out


def evidence(
    store: Store, rule, key_field: str | None, key: str, since: float, until: float, size: int
) -> tuple[list[str], dict[str, str | None]]:
    """Top posts for a candidate and the place/category they share (the grid→street map
    comes from the posts' own geo)."""
    f = rule_filters(rule, dt(since), dt(until))
    if key_field:
        f = f.model_copy(update={key_field: [key]})
    try:
        res = store.search(
            SearchQuery(
                q=store_query(rule), filters=f, sort="engagement", size=size, highlight=False
            )
        )
        posts: list[Post] = [h.post for h in res.hits]
    except Exception:
        posts = []
    return [p.id for p in posts], common_attrs(posts)


def common_attrs(posts: list[Post]) -> dict[str, str | None]:
    def top(values) -> str | None:
        c = Counter(v for v in values if v)
        return c.most_common(1)[0][0] if c else None

    return {
        "street": top(p.geo.street if p.geo else None for p in posts),
        "community": top(p.geo.community if p.geo else None for p in posts),
        "grid_id": top(p.geo.grid_id if p.geo else None for p in posts),
        "category": top(p.category.label if p.category else None for p in posts),
        "event_id": top(p.event_id for p in posts),
    }


def finite(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return None
    return x
