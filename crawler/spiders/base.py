"""What every source spider shares: loading its source, limits, seen-set, error counting."""

from __future__ import annotations

import logging
import re
from typing import Any

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError

from core.schema import canonical_url
from crawler.config import SourceConfig
from crawler.runtime import SourceRuntime, proxy_for, sources_for, user_agent, yuqing_settings
from crawler.seen import SeenSet, id_key, url_key

log = logging.getLogger(__name__)


def classify(exc: BaseException) -> str:
    """An error kind for per-source health: http_429, timeout, too_large, dns, …"""
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, DownloadTimeoutError) or "TimeoutError" in type(exc).__name__:
        return "timeout"
    if isinstance(exc, DownloadCancelledError):
        return "too_large"
    if isinstance(exc, CannotResolveHostError):
        return "dns"
    if isinstance(
        exc, DownloadConnectionRefusedError | DownloadFailedError | ResponseDataLossError
    ):
        return "connection"
    if isinstance(exc, IgnoreRequest):
        return "robots_denied" if "robots" in str(exc).lower() else "ignored"
    name = type(exc).__name__
    return re.sub(r"[^a-z0-9_]", "_", name.lower())[:40] or "error"


class SourceSpider(scrapy.Spider):
    """Base: ``-a source=NAME`` picks the entry in the sources file; its type must match."""

    name: str  # set by each concrete spider; the base is not listed by `scrapy list`

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        source_name = kwargs.get("source")
        if not source_name:
            raise ValueError(
                f"spider {cls.name} needs -a source=NAME (a name from the sources file)"
            )
        ys = yuqing_settings()
        sources = sources_for(ys)
        src = sources.get(source_name)
        if src is None:
            raise ValueError(f"unknown source {source_name!r}; known: {', '.join(sorted(sources))}")
        if src.spider != cls.name:
            raise ValueError(f"source {source_name!r} is a {src.spider} source, not {cls.name}")
        _apply_source_settings(crawler.settings, ys, src)
        spider = super().from_crawler(crawler, *args, **kwargs)
        return cls.attach(spider, ys, src)

    @classmethod
    def build(cls, crawler, ys, src: SourceConfig):
        """A spider on a test crawler (unit tests parse fixture bytes without a reactor)."""
        spider = cls(source=src.name)
        spider._set_crawler(crawler)
        crawler.spider = spider
        return cls.attach(spider, ys, src)

    @staticmethod
    def attach(spider, ys, src: SourceConfig):
        spider.ys = ys
        spider.src = src
        spider.rt = SourceRuntime(ys, src)
        spider.source_name = src.name
        spider.proxy = proxy_for(ys, src)
        spider.seen = SeenSet(ys.path(ys.crawler.seen_db))
        spider.list_pages = 0
        spider.visited_lists: set[str] = set()
        spider.requested: set[str] = set()
        spider.details = 0
        return spider

    # ---- limits and the seen-set ---------------------------------------------------------------
    def is_known(self, *keys: str) -> bool:
        return any(k in self.requested or self.seen.has(self.source_name, k) for k in keys if k)

    def claim(self, *keys: str) -> str:
        """Reserve a detail item: "new" (go), "seen" (stored by an earlier run: the list has
        reached known items), "run" (already requested in this run), "limit" (max_items)."""
        keys = tuple(k for k in keys if k)
        if any(k in self.requested for k in keys):
            return "run"
        if any(self.seen.has(self.source_name, k) for k in keys):
            self.crawler.stats.inc_value("yuqing/skipped_known")
            return "seen"
        return "new" if self.reserve(*keys) else "limit"

    def reserve(self, *keys: str) -> bool:
        """Count a detail request against max_items and remember its keys for this run."""
        if self.details >= self.src.max_items:
            self.crawler.stats.inc_value("yuqing/skipped_max_items")
            return False
        self.details += 1
        self.requested.update(keys)
        return True

    def list_request(self, url: str, callback, **kw) -> scrapy.Request | None:
        """Feed/list pages: always re-fetched (dont_filter), bounded by max_pages and loops."""
        key = canonical_url(url)
        if key in self.visited_lists:
            self.crawler.stats.inc_value("yuqing/pagination_loop")
            return None
        if self.list_pages >= self.src.max_pages:
            self.crawler.stats.inc_value("yuqing/max_pages_reached")
            return None
        self.visited_lists.add(key)
        self.list_pages += 1
        meta = kw.pop("meta", {})
        meta["yuqing_list"] = True
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, dont_filter=True, meta=meta, **kw
        )

    def detail_request(self, url: str, callback, **kw) -> scrapy.Request:
        kw.setdefault("errback", self.on_error)
        return scrapy.Request(url, callback=callback, **kw)

    def list_ok(self) -> None:
        self.crawler.stats.inc_value("yuqing/list_pages_ok")

    def on_error(self, failure) -> None:
        kind = classify(failure.value)
        self.crawler.stats.inc_value(f"yuqing/errors/{kind}")
        request = getattr(failure, "request", None)
        log.warning("%s: %s on %s", self.source_name, kind, getattr(request, "url", "?"))

    def item(self, **fields: Any) -> dict[str, Any]:
        """An item for the pipeline: raw fields plus the keys to mark seen once stored."""
        fields.setdefault("source", self.source_name)
        fields.setdefault("source_type", self.src.source_type)
        if self.src.region and not fields.get("region"):
            fields["region"] = self.src.region
        keys = []
        if fields.get("url"):
            keys.append(url_key(fields["url"]))
        if fields.get("native_id"):
            keys.append(id_key(fields["native_id"]))
        fields["_seen_keys"] = keys + list(fields.pop("seen_also", []))
        return fields

    def closed(self, reason: str) -> None:
        self.seen.close()


def _apply_source_settings(s, ys, src: SourceConfig) -> None:
    """Per-source politeness and limits (settings are still mutable in from_crawler)."""
    prio = "spider"
    s.set("USER_AGENT", user_agent(ys), priority=prio)
    s.set("ROBOTSTXT_OBEY", src.obey_robots, priority=prio)
    s.set("DOWNLOAD_DELAY", src.delay, priority=prio)
    s.set("CONCURRENT_REQUESTS_PER_DOMAIN", src.concurrency, priority=prio)
    s.set("DOWNLOAD_TIMEOUT", src.timeout, priority=prio)
    s.set("RETRY_TIMES", src.retries, priority=prio)
    s.set("DOWNLOAD_MAXSIZE", src.max_page_bytes, priority=prio)
    s.set("DOWNLOAD_WARNSIZE", min(src.max_page_bytes, 2_000_000), priority=prio)
    s.set("CLOSESPIDER_TIMEOUT", src.max_run_seconds, priority=prio)
    throttle = ys.crawler.autothrottle and src.delay > 0
    s.set("AUTOTHROTTLE_ENABLED", throttle, priority=prio)
    s.set("AUTOTHROTTLE_START_DELAY", max(src.delay, 0.1), priority=prio)
    s.set(
        "AUTOTHROTTLE_TARGET_CONCURRENCY", ys.crawler.autothrottle_target_concurrency, priority=prio
    )
    if src.delay == 0:
        s.set("RANDOMIZE_DOWNLOAD_DELAY", False, priority=prio)
        s.set("YUQING_BACKOFF_BASE", 0.2, priority=prio)
    if not s.get("JOBDIR"):
        # a fresh JOBDIR per run: a reused one persists the dupefilter and drops feed requests
        import time

        jobdir = ys.path(ys.crawler.jobs_dir) / src.name / f"{int(time.time() * 1000)}"
        s.set("JOBDIR", str(jobdir), priority=prio)
