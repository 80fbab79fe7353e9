"""Window rules on a controlled clock and synthetic streams: spike and negative share fire on a
burst and stay quiet on a normal daily rhythm; relapse fires on a resolved event; flatline;
match idempotency, silences, inhibition, quiet hours, escalation."""

from __future__ import annotations

import math
import random
import time

import pytest

from alerts import silences, state
from alerts.config import QuietHours
from alerts.engine import Engine
from alerts.notify import quiet_until
from alerts.routing import import_contacts
from core.services import Services
from tests.alerts_support import alert_settings, post

HOUR = 3600.0
RHYTHM = [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.7, 1.0, 1.2, 1.3, 1.2,
          1.0, 1.0, 1.1, 1.1, 1.1, 1.0, 1.0, 1.2, 1.3, 1.2, 0.9, 0.5]  # fmt: skip


def _poisson(rnd: random.Random, lam: float) -> int:
    # Knuth: small means only
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= L:
            return k
        k += 1


def rhythm_stream(end: float, weeks: int, grids: list[str], per_hour: float, neg: float, seed=1):
    rnd = random.Random(seed)
    posts, i = [], 0
    start = end - weeks * 7 * 86400
    t = start
    while t < end:
        hour = int(((t + 8 * HOUR) % 86400) // HOUR)  # Beijing hour
        for g in grids:
            for _ in range(_poisson(rnd, per_hour * RHYTHM[hour])):
                posts.append(
                    post(
                        f"r:{i}",
                        t + rnd.uniform(0, HOUR - 1),
                        "居民反映小区问题",
                        grid=g,
                        street=f"街道{g[-1]}",
                        category="property",
                        sentiment="negative" if rnd.random() < neg else "neutral",
                    )
                )
                i += 1
        t += HOUR
    return posts


@pytest.fixture
def env(tmp_path):
    def make(rules, **kw):
        settings = alert_settings(tmp_path, rules=rules, **kw)
        services = Services.open(settings)
        made.append(services)
        return services, Engine(settings, services.store)

    made: list[Services] = []
    yield make
    for s in made:
        s.close()


SPIKE = {
    "name": "spike",
    "type": "spike",
    "key": "grid_id",
    "window": "3h",
    "weeks": 4,
    "p_value": 0.001,
    "min_count": 5,
    "auto_resolve": True,
}


def test_spike_quiet_on_daily_rhythm_and_fires_on_burst(env):
    services, engine = env([SPIKE])
    end = (time.time() // HOUR) * HOUR - 2 * 86400
    services.store.upsert(rhythm_stream(end, 5, ["G1", "G2"], 2.0, 0.2))
    # a whole normal day, evaluated every 3 hours: nothing fires (mornings included)
    for k in range(8):
        out = engine.evaluate_windows(now=end - k * 3 * HOUR)
        assert out["fired"] == 0, (k, out)
    # a burst in G1 at night (02:00–04:00 Beijing): fires for G1 only
    night = end - ((end + 8 * HOUR) % 86400) + 4 * HOUR  # 04:00 of that day
    burst = [
        post(
            f"b:{i}",
            night - 2 * HOUR + i * 300,
            "暖气不热 停暖了",
            grid="G1",
            street="街道1",
            category="utilities",
        )
        for i in range(14)
    ]
    services.store.upsert(burst)
    out = engine.evaluate_windows(now=night)
    assert out["fired"] == 1
    a = engine.conn.execute("SELECT * FROM alerts").fetchone()
    assert a["key"] == "G1" and a["observed"] >= 14 and a["probability"] < 1e-3
    assert a["baseline"] < 3 and a["street"] == "街道1"
    # the condition clears a day later: auto-resolved
    engine.evaluate_windows(now=night + 86400)
    assert state.get(engine.conn, a["id"])["status"] == "resolved"


def test_negative_share_fires_only_on_a_real_rise(env):
    rule = {
        "name": "neg",
        "type": "negative_share",
        "key": "street",
        "window": "6h",
        "baseline_period": "7d",
        "margin": 0.25,
        "min_count": 10,
        "p_value": 0.01,
    }
    services, engine = env([rule])
    end = (time.time() // HOUR) * HOUR - 86400
    services.store.upsert(rhythm_stream(end, 2, ["G1", "G2"], 3.0, 0.25, seed=3))
    for k in range(6):
        assert engine.evaluate_windows(now=end - k * 4 * HOUR)["fired"] == 0
    angry = [
        post(
            f"n:{i}",
            end - 5 * HOUR + i * 600,
            "物业太差了 投诉无门",
            grid="G2",
            street="街道2",
            sentiment="negative",
        )
        for i in range(25)
    ]
    services.store.upsert(angry)
    assert engine.evaluate_windows(now=end)["fired"] == 1
    a = engine.conn.execute("SELECT * FROM alerts").fetchone()
    assert a["key"] == "街道2" and a["observed"] > a["baseline"] + 0.25


def test_relapse_fires_on_new_posts_after_resolution(env):
    rule = {"name": "relapse", "type": "relapse", "key": "event_id", "days": 14, "min_count": 2}
    match = {"name": "evt", "type": "match", "filter": {"event_id": ["E1"]}, "key": "event_id"}
    services, engine = env([match, rule])
    now = time.time()
    first = [
        post(f"e:{i}", now - 3 * 86400 + i, "工地欠薪", event="E1", street="唐冶街道")
        for i in range(3)
    ]
    services.store.upsert(first)
    engine.clock = lambda: now - 3 * 86400 + 100
    engine.on_posts(first)
    a = engine.conn.execute("SELECT id FROM alerts").fetchone()[0]
    state.resolve(engine.conn, a, "officer", "已协调发放工资", now=now - 2 * 86400)
    engine.clock = time.time
    assert engine.evaluate_windows(now=now)["fired"] == 0  # nothing new since
    again = [post(f"e2:{i}", now - 3600 + i, "又拖欠工资了", event="E1") for i in range(2)]
    services.store.upsert(again)
    assert engine.evaluate_windows(now=now)["fired"] == 1
    r = engine.conn.execute("SELECT * FROM alerts WHERE rule='relapse'").fetchone()
    assert r["relapse_of"] == a and r["key"] == "E1" and "复燃" in r["title"]
    assert engine.evaluate_windows(now=now + 60)["fired"] == 0  # deduplicated while open


def test_flatline_per_source_type(env):
    rule = {
        "name": "flat",
        "type": "flatline",
        "key": "source_type",
        "period": "6h",
        "lookback": "3d",
        "min_expected": 3,
    }
    services, engine = env([rule])
    now = time.time()
    services.store.upsert(
        [
            post(
                f"h:{i}", now - 3 * 86400 + i * 1800, source="hotline-12345", source_type="hotline"
            )
            for i in range(130)
        ]
        + [post(f"m:{i}", now - 3 * 86400 + i * 1800, source="weibo") for i in range(144)]
    )
    out = engine.evaluate_windows(now=now)
    assert out["fired"] == 1
    assert engine.conn.execute("SELECT key FROM alerts").fetchone()[0] == "hotline"


def test_match_is_idempotent_per_post_and_realert(env):
    rule = {
        "name": "kw",
        "type": "match",
        "severity": "warning",
        "key": "street",
        "filter": {"query": '讨薪 OR "拖欠工资" NOT 招聘'},
        "realert": "1h",
    }
    services, engine = env([rule])
    import_contacts(
        engine.conn,
        [{"name": "街道", "level": "street", "street": "唐冶街道", "email": "t@example.com"}],
        "t",
        "t",
    )
    now = time.time()
    p1 = post("k:1", now, "工地农民工讨薪", street="唐冶街道")
    p2 = post("k:2", now, "招聘启事：讨薪律师", street="唐冶街道")
    p3 = post("k:3", now, "老板拖欠工资三个月", street="唐冶街道")
    engine.on_posts([p1, p2])
    engine.on_posts([p1, p2])  # re-processed batch
    engine.on_posts([p3])
    rows = engine.conn.execute("SELECT * FROM alerts").fetchall()
    assert len(rows) == 1 and rows[0]["observed"] == 2
    pend = engine.conn.execute("SELECT COUNT(*) FROM alert_pending").fetchone()[0]
    assert pend == 1  # one notification; the second post only adds evidence


def test_silence_inhibition_and_quiet_hours(env):
    grid_rule = {
        "name": "grid",
        "type": "match",
        "key": "grid_id",
        "filter": {"category": ["wages"]},
    }
    street_rule = {
        "name": "street",
        "type": "match",
        "severity": "critical",
        "key": "street",
        "filter": {"risk": ["critical"]},
    }
    services, engine = env([grid_rule, street_rule])
    import_contacts(
        engine.conn, [{"name": "区", "level": "district", "email": "d@example.com"}], "t", "t"
    )
    now = time.time()
    engine.on_posts(
        [post("i:1", now, "聚集", grid="G1", street="唐冶街道", risk="critical", category="wages")]
    )
    # the street-level critical alert (category wages) inhibits the grid alert of the same category
    engine.deliver_once()
    rows = {r["rule"]: r for r in engine.conn.execute("SELECT * FROM alerts")}
    assert rows["grid"]["inhibited_by"] == rows["street"]["id"]
    assert rows["street"]["inhibited_by"] is None
    # a silence on the rule mutes new alerts
    silences.create(
        engine.conn,
        silences.SilenceIn(matchers=[{"name": "rule", "value": "grid"}], duration=600),
        "officer",
    )
    engine.on_posts([post("i:2", now, "讨薪", grid="G2", street="别的街道", category="wages")])
    g2 = engine.conn.execute("SELECT * FROM alerts WHERE key='G2'").fetchone()
    assert g2["silenced_by"] is not None
    queued = {
        r[0]
        for r in engine.conn.execute(
            "SELECT alert_id FROM alert_pending WHERE state IN ('pending', 'queued')"
        )
    }
    assert queued == {rows["street"]["id"]}
    # quiet hours wrap midnight
    q = QuietHours(start="22:00", end="07:00")
    midnight = (now // 86400) * 86400 - 8 * HOUR + 86400  # a Beijing midnight
    assert quiet_until(q, midnight) == midnight + 7 * HOUR
    assert quiet_until(q, midnight + 12 * HOUR) is None


def test_escalation_goes_up_the_hierarchy_until_acknowledged(env):
    rule = {"name": "m", "type": "match", "key": "grid_id", "filter": {"category": ["wages"]}}
    services, engine = env(
        [rule],
        escalation={
            "enabled": True,
            "ack_timeout": 60,
            "levels": ["grid", "street", "district"],
            "channels": ["email"],
        },
    )
    import_contacts(
        engine.conn,
        [
            {"name": "网格员", "level": "grid", "grid_id": "G1", "email": "g@example.com"},
            {"name": "街道", "level": "street", "street": "唐冶街道", "email": "s@example.com"},
            {"name": "区", "level": "district", "email": "d@example.com"},
        ],
        "t",
        "t",
    )
    now = time.time()
    engine.on_posts([post("e:1", now, "讨薪", grid="G1", street="唐冶街道", category="wages")])
    engine.conn.execute("UPDATE alerts SET last_notified_at=?", (now,))
    assert engine.escalate(now + 30) == 0
    assert engine.escalate(now + 61) == 1
    esc = engine.conn.execute(
        "SELECT contact FROM alert_pending WHERE reason='escalation'"
    ).fetchall()
    assert [r[0] for r in esc] == ["街道"]
    state.acknowledge(engine.conn, 1, "officer", "收到")
    assert engine.escalate(now + 500) == 0


def test_dispatched_alert_past_its_deadline_is_reminded_once_per_deadline(env):
    rule = {"name": "m", "type": "match", "key": "grid_id", "filter": {"category": ["wages"]}}
    services, engine = env([rule])
    import_contacts(
        engine.conn,
        [
            {"name": "网格员", "level": "grid", "grid_id": "G1", "email": "g@example.com"},
            {"name": "王科长", "level": "street", "street": "唐冶街道", "email": "w@example.com"},
        ],
        "t",
        "t",
    )
    now = time.time()
    engine.on_posts([post("d:1", now, "讨薪", grid="G1", street="唐冶街道", category="wages")])
    state.dispatch(engine.conn, 1, "officer", "王科长", now + 3600, "请两小时内处理", now=now)
    assert engine.deadline_reminders(now + 1800) == 0  # not yet due
    assert engine.deadline_reminders(now + 3601) == 1
    assert engine.deadline_reminders(now + 7200) == 0  # once per deadline
    rows = engine.conn.execute(
        "SELECT contact FROM alert_pending WHERE reason='overdue' ORDER BY contact"
    ).fetchall()
    assert {r[0] for r in rows} >= {"王科长"}  # the assignee, even outside the usual route
    events = [e["action"] for e in state.events(engine.conn, 1)]
    assert events.count("deadline_overdue") == 1
    # a new deadline gets a new reminder; a resolved alert gets none
    state.dispatch(engine.conn, 1, "officer", "王科长", now + 9000, "延期", now=now + 7300)
    assert engine.deadline_reminders(now + 9001) == 1
    state.dispatch(engine.conn, 1, "officer", "王科长", now + 20000, None, now=now + 9100)
    state.resolve(engine.conn, 1, "officer", "已解决", now=now + 9200)
    assert engine.deadline_reminders(now + 30000) == 0


def test_due_revisit_is_reminded_once(env):
    rule = {"name": "m", "type": "match", "key": "grid_id", "filter": {"category": ["wages"]}}
    services, engine = env([rule])
    import_contacts(
        engine.conn,
        [{"name": "网格员", "level": "grid", "grid_id": "G1", "email": "g@example.com"}],
        "t",
        "t",
    )
    now = time.time()
    engine.on_posts([post("v:1", now, "讨薪", grid="G1", street="唐冶街道", category="wages")])
    state.resolve(engine.conn, 1, "officer", "已协调", revisit_at=now + 600, now=now)
    assert engine.revisit_reminders(now + 300) == 0
    assert engine.revisit_reminders(now + 601) == 1
    assert engine.revisit_reminders(now + 900) == 0
    assert [e["action"] for e in state.events(engine.conn, 1)].count("revisit_due") == 1
    assert (
        engine.conn.execute("SELECT COUNT(*) FROM alert_pending WHERE reason='revisit'").fetchone()[
            0
        ]
        >= 1
    )
