"""Crawler units on fixture bytes: dates, counts, each spider's parsing, normalisation, imports."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from core.schema import SHANGHAI, Post
from crawler.config import SourcesError, load_sources
from crawler.dates import parse_count, parse_date
from crawler.fixtures.site import Site
from crawler.normalise import to_record
from crawler.runtime import sources_for
from crawler.spiders.html import HtmlSpider
from crawler.spiders.rss import RssSpider
from crawler.spiders.tieba import TiebaSpider
from crawler.spiders.weibo import WeiboSpider

NOW = datetime(2024, 7, 15, 12, 0, tzinfo=SHANGHAI)
BASE = "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年07月15日09:12", datetime(2024, 7, 15, 9, 12, tzinfo=SHANGHAI)),
        ("发布时间：2024-07-15 09:12 来源：本网", datetime(2024, 7, 15, 9, 12, tzinfo=SHANGHAI)),
        ("发表于 2024-7-5 9:02", datetime(2024, 7, 5, 9, 2, tzinfo=SHANGHAI)),
        ("2024/7/15", datetime(2024, 7, 15, tzinfo=SHANGHAI)),
        ("3小时前", datetime(2024, 7, 15, 9, 0, tzinfo=SHANGHAI)),
        ("5分钟前", datetime(2024, 7, 15, 11, 55, tzinfo=SHANGHAI)),
        ("昨天 08:30", datetime(2024, 7, 14, 8, 30, tzinfo=SHANGHAI)),
        ("前天 23:10", datetime(2024, 7, 13, 23, 10, tzinfo=SHANGHAI)),
        ("刚刚", NOW),
        ("07-14 10:00", datetime(2024, 7, 14, 10, 0, tzinfo=SHANGHAI)),
        ("12-30", datetime(2023, 12, 30, tzinfo=SHANGHAI)),  # last year's, not the future
        ("Mon, 15 Jul 2024 09:12:00 +0800", datetime(2024, 7, 15, 9, 12, tzinfo=SHANGHAI)),
        ("Mon Jul 15 09:30:12 +0800 2024", datetime(2024, 7, 15, 9, 30, 12, tzinfo=SHANGHAI)),
        ("2024-07-15T01:12:00Z", datetime(2024, 7, 15, 9, 12, tzinfo=SHANGHAI)),
    ],
)
def test_chinese_dates(text, expected):
    assert parse_date(text, NOW) == expected


@pytest.mark.parametrize("text", ["", None, "无日期", "2024年13月40日", "昨天 25:00"])
def test_unparseable_dates_are_none(text):
    assert parse_date(text, NOW) is None


def test_counts():
    assert [
        parse_count(x) for x in ("1万+", "3.2万", "1,234", "转发", None, 12, "100+", "1亿")
    ] == [10000, 32000, 1234, 0, 0, 12, 100, 100_000_000]


@pytest.fixture
def ys(make_ys):
    return make_ys()


@pytest.fixture
def make_ys(tmp_path):
    from tests.conftest import make_settings

    def make(**crawler):
        return make_settings(tmp_path, crawler={"fixture_url": BASE, **crawler})

    return make


@pytest.fixture
def site():
    return Site(BASE, NOW)


def spider(cls, ys, name):
    return cls.build(get_crawler(cls), ys, sources_for(ys)[name])


def resp(site, path, cls=HtmlResponse, **kw):
    page = site.pages[path]
    url = BASE + path
    return cls(
        url=url,
        body=page.body,
        request=Request(url),
        headers={"Content-Type": page.content_type},
        **kw,
    )


def items(results):
    return [r for r in results if isinstance(r, dict)]


def requests(results):
    return [r for r in results if isinstance(r, Request)]


def test_rss_and_atom_entries_follow_to_articles(ys, site):
    sp = spider(RssSpider, ys, "demo-rss")
    out = list(sp.parse_feed(resp(site, "/rss/news.xml", XmlResponse)))
    reqs = requests(out)
    assert [r.url for r in reqs] == [f"{BASE}/rss/a/{i}.html" for i in (1, 2, 3)]
    entry = reqs[0].cb_kwargs["entry"]
    assert entry["title"] == "洪家楼街道开展背街小巷环境整治"
    assert parse_date(entry["published_at"]) == datetime(2024, 7, 15, 10, 0, tzinfo=SHANGHAI)
    art = list(sp.parse_article(resp(site, "/rss/a/3.html"), **reqs[2].cb_kwargs))[0]
    assert art["text"].startswith("针对老旧小区停车难，历城区在华山街道")
    assert "版权所有" not in art["text"]
    assert parse_date(art["published_at"]) == datetime(2024, 7, 14, 10, 0, tzinfo=SHANGHAI)
    atom = requests(list(sp.parse_feed(resp(site, "/rss/atom.xml", XmlResponse))))
    assert [r.url for r in atom] == [f"{BASE}/rss/b/1.html", f"{BASE}/rss/b/2.html"]


def test_malformed_feed_still_yields_entries(ys, site):
    sp = spider(RssSpider, ys, "demo-rss")
    reqs = requests(list(sp.parse_feed(resp(site, "/hostile/bad.xml", XmlResponse))))
    titles = [r.cb_kwargs["entry"]["title"] for r in reqs]
    assert len(titles) == 1 and "的订阅" in titles[0]  # lxml recovers; the bare "&" is dropped


def test_gb2312_news_list_and_article(ys, site):
    sp = spider(HtmlSpider, ys, "demo-news")
    page = resp(site, "/news/list.html")
    assert page.encoding in ("gb18030", "gb2312")
    out = list(sp.parse_list(page))
    assert [r.url for r in requests(out)] == [
        f"{BASE}/news/2024/101.html",
        f"{BASE}/news/2024/102.html",
        f"{BASE}/news/list_2.html",
    ]
    item = items(sp.parse_detail(resp(site, "/news/2024/101.html"), native_id="101"))[0]
    assert item["title"] == "华山街道老旧小区加装电梯工作有序推进"
    assert item["text"].startswith("今年以来，华山街道已有14个老旧小区单元完成加装电梯")
    assert item["published_at"] == "2024年07月15日08:00"
    assert item["author_name"] == "记者 李明" and item["views"] == "1101"


def test_message_board_keeps_official_reply(ys, site):
    sp = spider(HtmlSpider, ys, "demo-board")
    item = items(sp.parse_detail(resp(site, "/board/msg/5001.html"), native_id="5001"))[0]
    assert (
        item["text"] == "东风街道某小区门口三盏路灯坏了一个多月，晚上出行很不安全，希望尽快维修。"
    )
    assert item["extra"]["reply"]["org"] == "历城区城市管理局"
    assert item["extra"]["reply"]["text"].startswith("您好，经核实")


def test_discuz_floors_become_posts_linked_to_the_thread(ys, site):
    sp = spider(HtmlSpider, ys, "demo-forum")
    out = items(sp.parse_detail(resp(site, "/forum/thread-301-1-1.html"), native_id="301"))
    assert [i["native_id"] for i in out] == ["301", "301-9002", "301-9003"]
    assert out[0]["title"] == "王舍人这边的小区物业费又涨了" and out[0]["views"] == "1523"
    assert [i.get("parent_native_id") for i in out] == [None, "301", "301"]
    assert parse_date(out[1]["published_at"]) == datetime(2024, 7, 15, 6, 30, tzinfo=SHANGHAI)


def test_discuz_thread_pages_continue_the_same_thread(ys, site):
    sp = spider(HtmlSpider, ys, "demo-forum")
    first = list(sp.parse_detail(resp(site, "/forum/thread-302-1-1.html"), native_id="302"))
    assert [i["native_id"] for i in items(first)] == ["302", "302-9102", "302-9103"]
    (nxt,) = requests(first)
    assert nxt.url.endswith("/forum/thread-302-2-1.html") and nxt.cb_kwargs["page_no"] == 2
    second = list(nxt.callback(resp(site, "/forum/thread-302-2-1.html"), **nxt.cb_kwargs))
    replies = items(second)
    assert [i["native_id"] for i in replies] == ["302-9104", "302-9105"]
    assert [i["parent_native_id"] for i in replies] == ["302", "302"]
    assert all(i["title"] is None for i in replies) and replies[0]["extra"]["floor"] == 4
    assert requests(second) == []  # the last page has no next link
    # a thread that links to itself again (or runs past max_thread_pages) stops
    again = list(nxt.callback(resp(site, "/forum/thread-302-1-1.html"), **nxt.cb_kwargs))
    assert requests(again) == []


def test_stored_thread_is_read_again_when_its_reply_count_changes(ys, site):
    from crawler.seen import id_key, replies_key, url_key

    sp = spider(HtmlSpider, ys, "demo-forum")
    thread = BASE + "/forum/thread-301-1-1.html"
    # a first read stores the thread post with its reply count as a seen key
    first = items(sp.parse_detail(resp(site, "/forum/thread-301-1-1.html"), native_id="301"))
    assert replies_key("301", 2) in first[0]["_seen_keys"]
    sp.seen.add("demo-forum", [url_key(thread), id_key("301"), replies_key("301", 1)])
    sp.seen.add("demo-forum", [id_key("301-9002")])  # one reply was stored before
    out = list(sp.parse_list(resp(site, "/forum/forum-2-1.html")))
    urls = [r.url for r in requests(out)]
    assert urls.count(thread) == 1  # the list shows 2 replies, 1 was stored: read it again
    again = next(r for r in requests(out) if r.url == thread)
    assert again.dont_filter
    floors = items(again.callback(resp(site, "/forum/thread-301-1-1.html"), **again.cb_kwargs))
    assert [i["native_id"] for i in floors] == ["301", "301-9003"]  # the known floor is skipped
    # once the current count is stored, the thread is left alone
    sp2 = spider(HtmlSpider, ys, "demo-forum")
    sp2.seen.add("demo-forum", [replies_key("301", 2)])
    out2 = list(sp2.parse_list(resp(site, "/forum/forum-2-1.html")))
    assert thread not in [r.url for r in requests(out2)]


def weibo_search(site, page):
    cid = quote("100103type=1&q=历城", safe="")
    return resp(
        site,
        f"/api/container/getIndex?containerid={cid}&page_type=searchall&page={page}",
        TextResponse,
    )


def test_weibo_cards_long_text_and_reposts(ys, site):
    sp = spider(WeiboSpider, ys, "demo-weibo")
    out = list(sp.parse_page(weibo_search(site, 1), kind="search", key="历城", page=1))
    first = items(out)[0]
    assert first["native_id"] == "4990000000000001"  # found inside card_group
    assert first["text"] == "#历城区# 荷花路这段又积水了，下雨天电动车根本过不去\n希望有关部门看看"
    assert parse_count(first["comments"]) == 10000 and first["region"] == "发布于 山东"
    long_req = [r for r in requests(out) if "/detail/" in r.url][0]
    full = items(sp.parse_detail(resp(site, "/detail/4990000000000002"), **long_req.cb_kwargs))[0]
    assert full["text"].endswith("现在下楼就到，菜价也公道。")
    assert any("page=2" in r.url for r in requests(out))
    out2 = items(sp.parse_page(weibo_search(site, 2), kind="search", key="历城", page=2))
    assert [(i["native_id"], i.get("parent_native_id")) for i in out2] == [
        ("4990000000000009", None),
        ("4990000000000003", "4990000000000009"),
    ]
    end = list(sp.parse_page(weibo_search(site, 3), kind="search", key="历城", page=3))
    assert end == []


def test_tieba_list_inside_comments_and_floors(ys, site):
    sp = spider(TiebaSpider, ys, "demo-tieba")
    path = f"/f?kw={quote('历城')}&ie=utf-8&pn=0"
    reqs = requests(list(sp.parse_list(resp(site, path))))
    assert [r.url for r in reqs] == [f"{BASE}/p/8800001", f"{BASE}/p/8800002"]
    floors = items(sp.parse_thread(resp(site, "/p/8800002"), **reqs[1].cb_kwargs))
    assert [f["native_id"] for f in floors] == ["t8800002", "p88000021", "p88000022"]
    assert floors[0]["title"] == "历城二中附近晚上有人飙车" and floors[0]["comments"] == 2
    assert floors[1]["parent_native_id"] == "t8800002" and floors[1]["region"] == "山东"


def test_normalised_record_is_a_valid_private_post(ys, site, tmp_path):
    item = {
        "source": "demo-weibo",
        "source_type": "microblog",
        "native_id": "1",
        "url": "https://m.weibo.cn/detail/1",
        "text": "  正文\u3000 内容 ",
        "published_at": "昨天 08:30",
        "author_id": "1001",
        "author_name": "历城小王",
        "region": "发布于 山东",
        "comments": "1万+",
        "parent_native_id": "0",
    }
    rec = to_record(item, salt_env="NO_SUCH_ENV", salt_file=str(tmp_path / "salt"), now=NOW)
    post = Post.model_validate(rec)
    assert post.id == "demo-weibo:1" and post.parent_id == "demo-weibo:0"
    assert post.author.hash and "1001" not in post.author.hash
    assert post.author_location == "山东" and post.engagement.comments == 10000
    assert post.published_at == datetime(2024, 7, 14, 8, 30, tzinfo=SHANGHAI)
    bad = to_record(
        {**item, "published_at": "某天"}, salt_env="X", salt_file=str(tmp_path / "salt")
    )
    with pytest.raises(ValueError):
        Post.model_validate(bad)


def test_sources_file_validation(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(
        "sources:\n  - {name: a, spider: html, source_type: news, urls: [http://x/]}\n"
        "  - {name: b, spider: rss, source_type: news, urls: [http://x/], obey_robots: false}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourcesError) as exc:
        load_sources(p)
    msg = str(exc.value)
    assert "sources[a]" in msg and "selectors" in msg and "robots_reason" in msg
    shipped = load_sources("config/sources.yaml")
    assert not any(s.enabled for s in shipped.values())
    assert {s.spider for s in shipped.values() if s.demo} == {"rss", "html", "weibo", "tieba"}


def test_wrong_declared_encoding_is_repaired(ys, site):
    from crawler.middlewares import EncodingMiddleware

    crawler = get_crawler(HtmlSpider)
    HtmlSpider.build(crawler, ys, sources_for(ys)["demo-news"])
    mw = EncodingMiddleware(crawler)
    bad = resp(site, "/hostile/wrongenc/1.html")
    assert "港沟" not in bad.text  # Scrapy believed the header
    fixed = mw.process_response(bad.request, bad)
    assert "港沟街道修复破损道路" in fixed.text
    big5 = resp(site, "/hostile/big5/1.html")
    assert "彩石街道舉辦社區運動會" in mw.process_response(big5.request, big5).text


def test_api_json_shapes_are_real(site):
    data = json.loads(weibo_search(site, 1).text)
    assert data["ok"] == 1 and data["data"]["cards"][0]["card_group"][0]["card_type"] == 9
