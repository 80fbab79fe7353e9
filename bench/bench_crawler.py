"""Crawler speed: pages/s parsed per spider (in-process, fixture bytes) and an end-to-end crawl
of a generated local site (5,000 detail pages + 100 list pages, throttling off) into the inbox.

``python -m bench --only crawler`` (``--quick``: 500 pages). Medians of repeated parses.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import yaml

from core.schema import SHANGHAI

BASE = "http://127.0.0.1:8765"


def _settings(tmp: Path, **crawler):
    from core.config import load_settings

    cfg = tmp / "yuqing.yaml"
    data = {
        "data_dir": str(tmp / "var"),
        "pipeline": {"components": ["keywords"]},
        "crawler": crawler,
    }
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(cfg, environ={})


def _parse_rates(tmp: Path, repeats: int) -> dict:
    from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.fixtures.site import Site
    from crawler.runtime import sources_for
    from crawler.spiders.html import HtmlSpider
    from crawler.spiders.rss import RssSpider
    from crawler.spiders.tieba import TiebaSpider
    from crawler.spiders.weibo import WeiboSpider

    ys = _settings(tmp, fixture_url=BASE)
    site = Site(BASE, datetime.now(SHANGHAI))
    sources = sources_for(ys)

    def resp(path, cls=HtmlResponse):
        page = site.pages[path]
        return cls(
            url=BASE + path,
            body=page.body,
            request=Request(BASE + path),
            headers={"Content-Type": page.content_type},
        )

    cid = quote("100103type=1&q=历城", safe="")
    cases = {
        "rss (feed + article, trafilatura)": (
            RssSpider,
            "demo-rss",
            lambda sp: (
                list(sp.parse_feed(resp("/rss/news.xml", XmlResponse))),
                list(
                    sp.parse_article(
                        resp("/rss/a/1.html"), entry={"url": BASE + "/rss/a/1.html", "title": "t"}
                    )
                ),
            ),
            2,
        ),
        "html news (GB2312 detail)": (
            HtmlSpider,
            "demo-news",
            lambda sp: list(sp.parse_detail(resp("/news/2024/101.html"), native_id="101")),
            1,
        ),
        "html forum (Discuz thread, 3 floors)": (
            HtmlSpider,
            "demo-forum",
            lambda sp: list(sp.parse_detail(resp("/forum/thread-301-1-1.html"), native_id="301")),
            1,
        ),
        "weibo (getIndex JSON page)": (
            WeiboSpider,
            "demo-weibo",
            lambda sp: list(
                sp.parse_page(
                    resp(
                        f"/api/container/getIndex?containerid={cid}&page_type=searchall&page=1",
                        TextResponse,
                    ),
                    kind="search",
                    key="历城",
                    page=1,
                )
            ),
            1,
        ),
        "tieba (thread with floors)": (
            TiebaSpider,
            "demo-tieba",
            lambda sp: list(sp.parse_thread(resp("/p/8800002"), tid="8800002", listing={})),
            1,
        ),
    }
    out = {}
    for label, (cls, name, fn, pages) in cases.items():
        rates = []
        for _ in range(5):
            sp = cls.build(get_crawler(cls), ys, sources[name])
            sp.claim = lambda *k: "new"  # measure parsing, not the seen-set
            start = time.perf_counter()
            for _ in range(repeats):
                fn(sp)
            rates.append(repeats * pages / (time.perf_counter() - start))
            sp.seen.close()
        out[label] = round(statistics.median(rates), 1)
    return out


def _end_to_end(tmp: Path, pages: int) -> dict:
    from crawler.fixtures.server import GEN_PER_LIST, FixtureServer
    from crawler.runner import run_source
    from crawler.runtime import sources_for

    lists = -(-pages // GEN_PER_LIST)
    with FixtureServer(generated=pages) as srv:
        src = {
            "name": "bench-gen",
            "spider": "html",
            "source_type": "news",
            "enabled": True,
            "urls": ["{fixture}/gen/list/0.html"],
            "delay": 0,
            "concurrency": 16,
            "retries": 0,
            "max_pages": lists + 1,
            "max_items": pages + 1,
            "max_run_seconds": 900,
            "timeout": 30,
            "selectors": {
                "item_links": "ul a::attr(href)",
                "next_page": "a.next::attr(href)",
                "title": "h1",
                "body": "div.c",
                "date": "div.d",
                "item_id": r"/item/(\d+)\.html",
            },
        }
        tmp.mkdir(parents=True, exist_ok=True)
        sfile = tmp / "sources.yaml"
        sfile.write_text(yaml.safe_dump({"sources": [src]}, allow_unicode=True), encoding="utf-8")
        ys = _settings(tmp, fixture_url=srv.base, sources=str(sfile), autothrottle=False)
        start = time.perf_counter()
        result = run_source(ys, sources_for(ys)["bench-gen"], timeout=900)
        secs = time.perf_counter() - start
    return {
        "detail_pages": pages,
        "list_pages": lists,
        "ok": result.ok,
        "items_queued": result.items,
        "pages_fetched": result.pages,
        "seconds": round(secs, 1),
        "pages_per_s": round(result.pages / secs, 1),
        "errors": result.errors,
    }


def run(args) -> dict:
    quick = bool(getattr(args, "quick", False))
    with tempfile.TemporaryDirectory(prefix="yq-bench-crawl-") as d:
        tmp = Path(d)
        parse = _parse_rates(tmp, 20 if quick else 100)
        e2e = _end_to_end(tmp / "e2e", 500 if quick else 5000)
    return {
        "parse_pages_per_s": parse,
        "end_to_end": e2e,
        "note": "one Scrapy process, AutoThrottle off, delay 0, 16 concurrent requests, loopback server; "
        "includes process start-up, robots.txt, normalisation and durable inbox writes",
    }
