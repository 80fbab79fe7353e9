"""End-to-end: the scheduler crawls the local fixture site in subprocesses into the inbox/store.

Two tests, a few seconds of crawling each: every shape with exact expected posts (and a second
pass that ingests nothing), and the hostile pages (bounded, no crash, errors counted per source).
"""

from __future__ import annotations

import time

import pytest
import yaml

from core.services import Services
from crawler.config import load_sources
from crawler.fixtures.server import FixtureServer
from crawler.health import source_health
from crawler.scheduler import CrawlScheduler
from tests.conftest import REPO, make_settings

EXPECTED = {
    # id: (title, text starts with, parent)
    "demo-news:101": (
        "华山街道老旧小区加装电梯工作有序推进",
        "今年以来，华山街道已有14个老旧小区单元完成加装电梯",
        None,
    ),
    "demo-news:102": (
        "全福街道集中清理占道经营摊点",
        "全福街道对辖区主要道路占道经营行为开展集中整治",
        None,
    ),
    "demo-news:103": (
        "临港街道居民反映供暖管网改造进度慢",
        "多名居民反映临港街道某小区供暖管网改造迟迟未完工",
        None,
    ),
    "demo-board:5001": ("小区门口路灯坏了一个多月", "东风街道某小区门口三盏路灯坏了一个多月", None),
    "demo-board:5002": ("装修噪音晚上十点后还在施工", "洪家楼街道某小区有住户装修", None),
    "demo-forum:301": (
        "王舍人这边的小区物业费又涨了",
        "我们小区物业费从每平米1.2元涨到1.8元",
        None,
    ),
    "demo-forum:301-9002": (None, "我们小区也是，服务没变好", "demo-forum:301"),
    "demo-forum:301-9003": (None, "可以向街道和住建部门反映", "demo-forum:301"),
    "demo-forum:302": (
        "华山湖边晚上广场舞音响太大",
        "每天晚上八点到十点，湖边广场舞音响开得很大",
        None,
    ),
    "demo-forum:302-9102": (None, "同感，已经打过12345", "demo-forum:302"),
    "demo-forum:302-9103": (None, "我们也想小点声", "demo-forum:302"),
    "demo-forum:302-9104": (None, "街道今天来人了", "demo-forum:302"),  # page 2
    "demo-forum:302-9105": (None, "今晚确实小多了", "demo-forum:302"),
    "demo-weibo:4990000000000001": (None, "#历城区# 荷花路这段又积水了", None),
    "demo-weibo:4990000000000002": (
        None,
        "唐冶新区这边新开的菜市场终于营业了，买菜方便多了，点赞街道的效率！\n以前要骑车二十分钟去港沟",
        None,
    ),
    "demo-weibo:4990000000000009": (None, "遥墙机场高速出口附近垃圾堆放好几天没人清理", None),
    "demo-weibo:4990000000000003": (
        None,
        "转发微博 //@泉城观察: 说得对",
        "demo-weibo:4990000000000009",
    ),
    "demo-tieba:t8800001": ("【公告】本吧吧规", "请文明发言。", None),
    "demo-tieba:t8800002": ("历城二中附近晚上有人飙车", "每天晚上十一点以后", None),
    "demo-tieba:p88000021": (None, "同感，已经打过12345了。", "demo-tieba:t8800002"),
    "demo-tieba:p88000022": (None, "建议装测速摄像头。", "demo-tieba:t8800002"),
}
RSS_TITLES = {
    "洪家楼街道开展背街小巷环境整治",
    "王舍人街道举行防汛应急演练",
    "历城区新增三处便民停车场",
    "唐冶街道回应学校周边交通拥堵",
    "遥墙街道推进农村生活污水治理",
}

HOSTILE = [
    {
        "name": "h-malformed",
        "spider": "html",
        "source_type": "news",
        "urls": ["{fixture}/hostile/malformed/list.html"],
        "selectors": {
            "item_links": "a::attr(href)",
            "title": "h1",
            "body": "div.c",
            "date": "div.d",
        },
    },
    {
        "name": "h-wrongenc",
        "spider": "html",
        "source_type": "news",
        "urls": ["{fixture}/hostile/wrongenc/list.html"],
        "selectors": {
            "item_links": "a::attr(href)",
            "title": "h1",
            "body": "div.c",
            "date": "div.d",
        },
    },
    {
        "name": "h-badxml",
        "spider": "rss",
        "source_type": "news",
        "urls": ["{fixture}/hostile/bad.xml"],
    },
    {
        "name": "h-robots",
        "spider": "html",
        "source_type": "news",
        "urls": ["{fixture}/hostile/robots/list.html"],
        "selectors": {"item_links": "a::attr(href)"},
    },
    {
        "name": "h-loop",
        "spider": "html",
        "source_type": "forum",
        "urls": ["{fixture}/hostile/loop/list?page=1"],
        "max_pages": 4,
        "selectors": {
            "item_links": "a.i::attr(href)",
            "next_page": "a.next::attr(href)",
            "title": "h1",
            "body": "div.c",
            "date": "div.d",
        },
    },
    {
        "name": "h-storm",
        "spider": "html",
        "source_type": "news",
        "urls": ["{fixture}/hostile/storm/list.html"],
        "retries": 1,
        "timeout": 1,
        "max_page_bytes": 1000000,
        "selectors": {
            "item_links": "a.i::attr(href)",
            "title": "h1",
            "body": "div.c",
            "date": "div.d",
        },
    },
    {
        "name": "h-down",
        "spider": "rss",
        "source_type": "news",
        "urls": ["{fixture}/hostile/status/500/feed.xml"],
        "retries": 2,
    },
]


def write_sources(tmp_path, entries) -> str:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True), encoding="utf-8")
    return str(path)


def demo_entries() -> list[dict]:
    shipped = load_sources(REPO / "config" / "sources.yaml")
    return [s.model_dump(exclude_none=True) | {"enabled": True} for s in shipped.values() if s.demo]


def run_all(sched: CrawlScheduler, names: set[str], now: float, limit: float = 90) -> None:
    """Drive the scheduler until every source has run once (bounded)."""
    deadline = time.time() + limit
    done: set[str] = set()
    while done != names:
        assert time.time() < deadline, f"crawls did not finish: {names - done}"
        sched.step(now)
        done = {r.source for r in sched.results} & names
        time.sleep(0.2)
    while sched.running:
        sched.step(now)
        time.sleep(0.1)


@pytest.fixture
def server():
    with FixtureServer(slow_seconds=3) as srv:
        yield srv


def test_every_shape_end_to_end_then_nothing_twice(tmp_path, server):
    settings = make_settings(
        tmp_path,
        crawler={
            "fixture_url": server.base,
            "sources": write_sources(tmp_path, demo_entries()),
            "max_parallel": 3,
        },
    )
    services = Services.open(settings)
    sched = CrawlScheduler(settings, services.app_db, tick=0.1)
    try:
        names = set(load_sources(settings.crawler.sources))
        now = time.time()
        run_all(sched, names, now)
        assert all(r.ok for r in sched.results), [(r.source, r.message) for r in sched.results]
        services.make_processor().drain()
        posts = {p.id: p for p in _all_posts(services)}
        rss = {p.title for p in posts.values() if p.source == "demo-rss"}
        assert rss == RSS_TITLES
        non_rss = {i: p for i, p in posts.items() if p.source != "demo-rss"}
        assert set(non_rss) == set(EXPECTED)
        for pid, (title, text, parent) in EXPECTED.items():
            p = posts[pid]
            assert p.title == title and p.text.startswith(text) and p.parent_id == parent, pid
        assert posts["demo-news:101"].published_at == server.site.at(4)
        assert posts["demo-weibo:4990000000000001"].engagement.comments == 10000
        assert posts["demo-weibo:4990000000000001"].author_location == "山东"
        board = posts["demo-board:5001"].extra["reply"]
        assert board["org"] == "历城区城市管理局"
        assert all(p.author.hash is None or len(p.author.hash) == 32 for p in posts.values())
        first = len(posts)
        # the next scheduled pass: lists and feeds are fetched again, nothing is ingested twice
        hits_before = server.count("/rss/news.xml")
        sched.results.clear()
        run_all(sched, names, now + 3600 * 24)
        assert server.count("/rss/news.xml") == hits_before + 1
        assert sum(r.items for r in sched.results) == 0
        assert server.count("/news/list_2.html") == 1  # pagination stopped at known items
        services.make_processor().drain()
        assert services.store.info()["posts"] == first
        health = {h["source"]: h for h in source_health(services.app_db)}
        assert health["demo-weibo"]["items_24h"] == 4 and health["demo-weibo"]["runs_24h"] == 2
        assert health["demo-rss"]["last_success"] and health["demo-rss"]["last_error"] is None
    finally:
        sched.stop()
        services.close()


def test_hostile_site_is_bounded_and_counted(tmp_path, server):
    settings = make_settings(
        tmp_path,
        crawler={
            "fixture_url": server.base,
            "sources": write_sources(
                tmp_path, [h | {"enabled": True, "delay": 0} for h in HOSTILE]
            ),
            "max_parallel": 3,
            "run_timeout": 60,
        },
    )
    services = Services.open(settings)
    sched = CrawlScheduler(settings, services.app_db, tick=0.1)
    try:
        started = time.time()
        run_all(sched, {h["name"] for h in HOSTILE}, time.time())
        assert time.time() - started < 60
        res = {r.source: r for r in sched.results}
        assert all(r.returncode == 0 for r in res.values()), {n: r.message for n, r in res.items()}
        mal = res["h-malformed"]  # page 2 has no date: dead-lettered and counted, not dropped
        assert mal.ok and mal.items == 1 and mal.rejected == 1 and mal.errors == {"invalid_item": 1}
        assert any(d["origin"] == "crawler:h-malformed" for d in services.inbox.deadletters())
        assert res["h-wrongenc"].ok and res["h-wrongenc"].items == 1
        assert res["h-badxml"].ok
        assert res["h-robots"].errors.get("robots_denied", 0) >= 1 and res["h-robots"].items == 0
        assert server.count("/hostile/robots/list.html") == 0
        loop = res["h-loop"]
        assert loop.ok and loop.items == 4 and server.count("/hostile/loop/list?page=5") == 0
        storm = res["h-storm"].errors
        assert (
            storm.get("http_404") == 2 and storm.get("http_429") == 2 and storm.get("http_500") == 2
        )
        assert storm.get("too_large") == 1 and storm.get("timeout") == 1
        assert server.count("/hostile/status/429/1.html") == 2  # retried once after Retry-After
        assert res["h-storm"].ok and res["h-storm"].items == 1
        down = res["h-down"]
        assert (
            not down.ok and down.errors == {"http_500": 1} and "no feed/list page" in down.message
        )
        assert server.count("/hostile/status/500/feed.xml") == 3
        services.make_processor().drain()
        posts = {p.id: p for p in _all_posts(services)}
        wrongenc = [p for p in posts.values() if p.source == "h-wrongenc"][0]
        assert wrongenc.title == "港沟街道修复破损道路"
        health = {h["source"]: h for h in source_health(services.app_db)}
        assert (
            health["h-down"]["failures_24h"] == 1
            and health["h-storm"]["errors_24h"]["too_large"] == 1
        )
        # the next pass over the same hostile site stores nothing twice; the endless list
        # stops at its first page, whose item is known
        count = services.store.info()["posts"]
        page2 = server.count("/hostile/loop/list?page=2")
        sched.results.clear()
        run_all(sched, {"h-malformed", "h-wrongenc", "h-loop"}, time.time() + 86400)
        services.make_processor().drain()
        assert services.store.info()["posts"] == count
        assert sum(r.items for r in sched.results) == 0
        assert server.count("/hostile/loop/list?page=2") == page2
    finally:
        sched.stop()
        services.close()


def _all_posts(services):
    from store.base import SearchQuery

    return [h.post for h in services.store.search(SearchQuery(size=200, sort="time")).hits]
