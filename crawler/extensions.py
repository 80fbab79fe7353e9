"""Per-run report of a crawl process, read by the scheduler for source health.

Written as JSON to the ``YUQING_RUN_REPORT`` setting's path when the spider closes: pages,
items accepted/rejected, errors by kind, finish reason. Errors by kind come from the spiders'
errbacks (``yuqing/errors/<kind>``) and from exceptions raised in callbacks (``parse_error``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from scrapy import signals

log = logging.getLogger(__name__)


class RunReport:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.path = crawler.settings.get("YUQING_RUN_REPORT")

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_error(self, failure, response, spider=None):
        self.crawler.stats.inc_value("yuqing/errors/parse_error")

    def report(self, reason: str) -> dict:
        stats = self.crawler.stats.get_stats()
        errors = {
            k.split("/", 2)[2]: v for k, v in stats.items() if k.startswith("yuqing/errors/") and v
        }
        spider = self.crawler.spider
        return {
            "source": getattr(spider, "source_name", None),
            "spider": getattr(spider, "name", None),
            "finish_reason": reason,
            "pages": int(stats.get("response_received_count", 0)),
            "list_pages_ok": int(stats.get("yuqing/list_pages_ok", 0)),
            "items": int(stats.get("yuqing/items_accepted", 0)),
            "rejected": int(stats.get("yuqing/items_rejected", 0)),
            "skipped_known": int(stats.get("yuqing/skipped_known", 0)),
            "retries": int(stats.get("retry/count", 0)),
            "bytes": int(stats.get("downloader/response_bytes", 0)),
            "errors": errors,
        }

    def spider_closed(self, spider=None, reason: str = "finished"):
        rep = self.report(reason)
        log.info("run report: %s", json.dumps(rep, ensure_ascii=False))
        if self.path:
            p = Path(self.path)
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_suffix(".tmp")
            tmp.write_text(json.dumps(rep, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, p)
