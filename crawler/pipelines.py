"""The only way crawled items leave a crawl: normalised, then into the durable inbox."""

from __future__ import annotations

import logging
from typing import Any

from core.queue import Inbox
from crawler.normalise import to_record

log = logging.getLogger(__name__)

FLUSH_EVERY = 50


class InboxPipeline:
    """Buffers records and puts them into the inbox (origin ``crawler:<source>``) in batches.

    Invalid records are dead-lettered by the inbox and counted under ``yuqing/items_rejected``;
    only after the inbox has answered are the items' keys added to the seen-set.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.buffer: list[tuple[dict[str, Any], list[str]]] = []
        self.inbox: Inbox | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        spider = self.crawler.spider
        settings = spider.ys
        self.inbox = Inbox(settings.path(settings.queue.path), settings.queue.max_attempts)

    def process_item(self, item, spider=None):
        spider = self.crawler.spider
        privacy = spider.ys.privacy
        salt_file = str(spider.ys.path(privacy.salt_file))
        record = to_record(dict(item), salt_env=privacy.salt_env, salt_file=salt_file)
        self.buffer.append((record, list(item.get("_seen_keys") or [])))
        if len(self.buffer) >= FLUSH_EVERY:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer or self.inbox is None:
            return
        spider = self.crawler.spider
        stats = self.crawler.stats
        records = [r for r, _ in self.buffer]
        result = self.inbox.put(records, origin=f"crawler:{spider.source_name}")
        stats.inc_value("yuqing/items_accepted", result.accepted)
        if result.rejected:
            stats.inc_value("yuqing/items_rejected", len(result.rejected))
            stats.inc_value("yuqing/errors/invalid_item", len(result.rejected))
            for r in result.rejected[:5]:
                log.warning("%s: dead-lettered %s", spider.source_name, r.reason[:300])
        keys = [k for _, ks in self.buffer for k in ks]
        spider.seen.add(spider.source_name, keys)
        self.buffer.clear()

    def close_spider(self, spider=None) -> None:
        try:
            self.flush()
        finally:
            if self.inbox is not None:
                self.inbox.close()
