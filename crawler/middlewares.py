"""Downloader middlewares: retries with back-off, encoding repair, per-source request meta."""

from __future__ import annotations

import asyncio
import codecs
import logging
import random

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import TextResponse
from scrapy.utils.response import response_status_message
from w3lib.encoding import html_body_declared_encoding

log = logging.getLogger(__name__)

FALLBACK_ENCODINGS = ("utf-8", "gb18030", "big5")


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, but waits before retrying 429/5xx: Retry-After when the server gives one
    (capped), else exponential back-off with jitter. Only the failing request waits."""

    def _delay(self, request, response) -> float:
        spider = self.crawler.spider
        cap = float(getattr(getattr(spider, "src", None), "backoff_max", 60.0))
        attempt = request.meta.get("retry_times", 0)
        retry_after = response.headers.get(b"Retry-After") if response is not None else None
        if retry_after:
            try:
                return min(cap, max(0.0, float(retry_after.decode().strip())))
            except ValueError:
                pass
        base = float(self.crawler.settings.getfloat("YUQING_BACKOFF_BASE", 1.0))
        return min(cap, base * (2**attempt) * (0.5 + random.random()))

    async def process_response(self, request, response, spider=None):  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        delay = self._delay(request, response)
        if delay > 0:
            await asyncio.sleep(delay)
        return retry


class EncodingMiddleware:
    """Decode pages by what they are, not only by what they claim.

    A source may force an encoding. Otherwise, when the declared encoding (header or <meta>)
    cannot decode the body, try the <meta> one, then UTF-8, GB18030 and Big5 strictly.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response, spider=None):
        if not isinstance(response, TextResponse) or not response.body:
            return response
        src = getattr(self.crawler.spider, "src", None)
        forced = getattr(src, "encoding", None)
        if forced:
            return response.replace(encoding=forced)
        body = response.body
        if _decodes(body, response.encoding):
            return response
        candidates = []
        declared = html_body_declared_encoding(body[:4096])
        if declared:
            candidates.append(declared)
        candidates.extend(FALLBACK_ENCODINGS)
        for enc in candidates:
            if _decodes(body, enc):
                self.crawler.stats.inc_value("yuqing/encoding_repaired")
                log.info(
                    "%s: declared %s does not decode; using %s",
                    response.url,
                    response.encoding,
                    enc,
                )
                return response.replace(encoding=enc)
        return response  # undecodable: Scrapy replaces bad bytes


def _decodes(body: bytes, encoding: str | None) -> bool:
    if not encoding:
        return False
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    if name in ("gb2312", "gbk"):
        name = "gb18030"  # browsers read GB2312/GBK pages as GB18030
    try:
        body.decode(name)
    except UnicodeDecodeError:
        return False
    return True


class SourceRequestMiddleware:
    """Per-source proxy and headers on every request (the proxy before HttpProxyMiddleware)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None):
        spider = self.crawler.spider
        proxy = getattr(spider, "proxy", None)
        if proxy and "proxy" not in request.meta:
            request.meta["proxy"] = proxy
        for k, v in (getattr(getattr(spider, "src", None), "headers", None) or {}).items():
            request.headers.setdefault(k, v)
        return None
