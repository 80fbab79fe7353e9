"""Events: one incident across sources is one event; another street's incident stays apart;
events are stored, rebuilt after a restart and served by the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.pipeline import Context, build_pipeline
from core.schema import SHANGHAI, Engagement, Geo, Post
from enrich.events import EventsComponent
from store.events import Event, EventQuery, event_heat, event_trend

NOW = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=2)


def _post(pid, source, stype, text, minutes, title=None, street=None, likes=0) -> Post:
    return Post(
        id=pid,
        source=source,
        source_type=stype,
        text=text,
        title=title,
        published_at=NOW + timedelta(minutes=minutes),
        engagement=Engagement(likes=likes),
        geo=Geo(street=street, district="历城区", level="street") if street else None,
    )


def incident_posts() -> list[Post]:
    return [
        _post(
            "weibo:1",
            "weibo",
            "microblog",
            "唐冶街道这边一个小区着火了，好大的烟，消防车来了好几辆，大家绕行 #济南#",
            0,
            likes=120,
        ),
        _post(
            "tieba:1",
            "tieba",
            "forum",
            "唐冶那个小区着火现场，浓烟从楼里冒出来，楼上住户都下来了",
            15,
        ),
        _post(
            "news:1",
            "qlwb",
            "news",
            "今日上午10时许，历城区唐冶街道某小区一居民楼发生火灾，消防救援人员迅速到场处置，"
            "火势已得到控制，起火原因正在调查。",
            50,
            title="历城区唐冶街道一小区居民楼发生火灾",
        ),
        # same day, another street, another incident
        _post(
            "weibo:2",
            "weibo",
            "microblog",
            "洪家楼街道七里堡菜市场门口两个摊主打起来了，有人头破血流，警察来了",
            30,
        ),
        # same day, another street, same kind of incident (a fire) stays separate too
        _post(
            "weibo:3",
            "weibo",
            "microblog",
            "鲍山街道一个小区着火了，好大的烟，消防车来了",
            40,
        ),
    ]


@pytest.fixture
def pipeline(services):
    names = ["keywords", "category", "risk", "dedup", "events"]
    return build_pipeline(Context(services.settings, services.store), names)


def test_two_sources_grouped_other_street_separate(services, pipeline):
    out = {p.id: p for p in pipeline(incident_posts())}
    fire = out["weibo:1"].event_id
    assert fire and out["tieba:1"].event_id == fire and out["news:1"].event_id == fire
    assert out["weibo:2"].event_id not in (None, fire)
    assert out["weibo:3"].event_id not in (None, fire, out["weibo:2"].event_id)
    services.store.upsert(list(out.values()))
    ev = services.store.get_event(fire)
    assert ev is not None and ev.post_count == 3
    assert ev.title == "历城区唐冶街道一小区居民楼发生火灾"  # the news headline represents it
    assert set(ev.sources) == {"weibo", "tieba", "qlwb"}
    assert set(ev.source_types) == {"microblog", "forum", "news"}
    assert ev.streets == {"唐冶街道": 3}
    assert ev.risk == "critical"
    assert ev.first_seen == NOW and ev.last_seen == NOW + timedelta(minutes=50)
    assert ev.heat == event_heat(ev) > 0


def test_reprocessing_and_restart_do_not_double_count(services, pipeline):
    posts = incident_posts()
    first = {p.id: p.event_id for p in pipeline(posts)}
    services.store.upsert(posts)
    again = {p.id: p.event_id for p in pipeline(incident_posts())}
    assert again == first
    assert services.store.get_event(first["weibo:1"]).post_count == 3
    # a new process: events re-opened from the store; a late report joins the same event
    fresh = EventsComponent(Context(services.settings, services.store))
    late = _post(
        "hotline:1",
        "12345",
        "hotline",
        "来电人反映：唐冶街道某小区居民楼着火，楼道里都是烟，家里老人被困，请求尽快救援。",
        70,
    )
    pipe2 = build_pipeline(
        Context(services.settings, services.store), ["keywords", "category", "risk"]
    )
    out = fresh(pipe2([late]))
    assert out[0].event_id == first["weibo:1"]
    assert fresh(pipe2(incident_posts()))[0].event_id == first["weibo:1"]  # restart + reprocess
    assert services.store.get_event(first["weibo:1"]).post_count == 4


def test_events_without_store_live_in_memory(settings):
    pipe = build_pipeline(Context(settings, None), ["keywords", "category", "risk", "events"])
    out = pipe(incident_posts())
    assert out[0].event_id == out[1].event_id == out[2].event_id


def test_store_event_queries(services):
    base = datetime(2026, 11, 1, 8, tzinfo=SHANGHAI)
    evs = [
        Event(
            id=f"ev-{i}",
            title=f"事件{i}",
            first_seen=base + timedelta(hours=i),
            last_seen=base + timedelta(hours=i + 1),
            post_count=i + 1,
            heat=float(10 - i),
            risk="critical" if i == 0 else "none",
            streets={"唐冶街道" if i % 2 == 0 else "鲍山街道": i + 1},
            source_types={"news": 1},
            categories={"safety": 1},
        )
        for i in range(5)
    ]
    services.store.upsert_events(evs)
    st = services.store
    assert [e.id for e in st.search_events(EventQuery()).events][:2] == ["ev-0", "ev-1"]
    assert [e.id for e in st.search_events(EventQuery(sort="last_seen")).events][0] == "ev-4"
    assert {e.id for e in st.search_events(EventQuery(street=["鲍山街道"])).events} == {
        "ev-1",
        "ev-3",
    }
    assert st.search_events(EventQuery(risk=["critical"])).total == 1
    assert st.search_events(EventQuery(min_posts=4)).total == 2
    assert st.search_events(EventQuery(q="事件3")).events[0].id == "ev-3"
    assert st.search_events(EventQuery(category=["traffic"])).total == 0
    page1 = st.search_events(EventQuery(size=2))
    page2 = st.search_events(EventQuery(size=2, cursor=page1.next_cursor))
    assert [e.id for e in page1.events + page2.events] == ["ev-0", "ev-1", "ev-2", "ev-3"]
    assert st.get_event("missing") is None


def test_trend():
    t0 = datetime(2026, 11, 1, 0, tzinfo=SHANGHAI)
    e = Event(id="e", title="t", first_seen=t0, last_seen=t0 + timedelta(hours=20))
    ts = int(t0.timestamp())
    e.hourly = {str(ts + 3600 * h): 1 for h in (8, 9)} | {str(ts + 3600 * h): 3 for h in (18, 19)}
    assert event_trend(e, t0 + timedelta(hours=20)) == "rising"
    e.hourly = {str(ts + 3600 * h): 5 for h in (8, 9)} | {str(ts + 3600 * 18): 1}
    assert event_trend(e, t0 + timedelta(hours=20)) == "falling"
    assert event_trend(e, t0 + timedelta(days=5)) == "quiet"
    assert event_trend(e, t0 + timedelta(hours=3)) == "new"


def test_events_api(services, client, pipeline):
    posts = pipeline(incident_posts())
    services.store.upsert(posts)
    r = client.get("/api/v1/events")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1  # min_posts=2 by default: single-post events are not listed
    ev = body["events"][0]
    assert ev["post_count"] == 3 and ev["street"] == "唐冶街道" and "terms" not in ev
    assert ev["trend"] in ("new", "rising", "steady", "falling", "quiet")
    r = client.get("/api/v1/events", params={"min_posts": 1, "sort": "last_seen", "size": 10})
    assert r.json()["total"] == 3
    assert (
        client.get("/api/v1/events", params={"street": "鲍山街道", "min_posts": 1}).json()["total"]
        == 1
    )
    d = client.get(f"/api/v1/events/{ev['id']}").json()
    assert {p["post"]["id"] for p in d["posts"]["hits"]} == {"weibo:1", "tieba:1", "news:1"}
    assert sum(b["count"] for b in d["timeline"]["buckets"]) == 3
    assert client.get("/api/v1/events/nope").status_code == 404
    bad = client.get("/api/v1/events", params={"sort": "random"})
    assert bad.status_code == 400 and "error" in bad.json()
    assert client.get("/api/v1/events", params={"cursor": "!!"}).status_code == 400
    # the posts API filters by event too
    r = client.get("/api/v1/posts", params={"event": ev["id"]})
    assert r.json()["total"] == 3


def test_a_problem_that_keeps_coming_back_opens_new_events_after_the_maximum_age():
    from nlp.events import EventClusterer, post_features

    clusterer = EventClusterer(window_s=72 * 3600, max_age_s=3 * 86400)
    start = NOW - timedelta(days=9)
    events = []
    for i in range(18):  # the same complaint every 12 hours for 9 days
        p = _post(
            f"hl:{i}",
            "hotline-12345",
            "hotline",
            "唐冶街道某小区楼下饭店油烟太大，晚上排风扇噪音吵得睡不着，多次反映没人管",
            0,
            street="唐冶街道",
        ).model_copy(update={"published_at": start + timedelta(hours=12 * i)})
        ev, _ = clusterer.assign(post_features(p))
        events.append(ev)
    ids = list(dict.fromkeys(e.id for e in events))
    assert len(ids) >= 3  # without an age limit this was one event spanning nine days
    for ev_id in ids:
        ev = next(e for e in events if e.id == ev_id)
        assert ev.last_seen - ev.first_seen <= timedelta(days=3)
