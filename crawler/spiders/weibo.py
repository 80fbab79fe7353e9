"""Weibo through the mobile JSON API shapes (m.weibo.cn): keyword search and user timelines.

``/api/container/getIndex`` answers ``{"ok":1,"data":{"cards":[…]}}``; posts are cards with
``card_type == 9`` (also nested in ``card_group``). Long posts are fetched from ``/detail/{id}``
(``var $render_data = [...]``). Reposts become two posts, the repost pointing to its original.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from parsel import Selector
from scrapy.http import Response

from crawler.normalise import clean_text
from crawler.seen import id_key
from crawler.spiders.base import SourceSpider

_RENDER = re.compile(r"\$render_data\s*=\s*(\[.*?\])\s*\[0\]", re.S)


def html_text(fragment: str | None) -> str:
    if not fragment:
        return ""
    fragment = re.sub(r"<br\s*/?>", "\n", fragment)
    return clean_text("".join(Selector(text=f"<div>{fragment}</div>").xpath("//text()").getall()))


def iter_mblogs(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for card in (data.get("data") or {}).get("cards") or []:
        if not isinstance(card, dict):
            continue
        if card.get("card_type") == 9 and isinstance(card.get("mblog"), dict):
            yield card["mblog"]
        for sub in card.get("card_group") or []:
            if (
                isinstance(sub, dict)
                and sub.get("card_type") == 9
                and isinstance(sub.get("mblog"), dict)
            ):
                yield sub["mblog"]


class WeiboSpider(SourceSpider):
    name = "weibo"

    def api(self, params: str) -> str:
        return f"{self.rt.base('https://m.weibo.cn')}/api/container/getIndex?{params}"

    def search_url(self, keyword: str, page: int) -> str:
        cid = quote(f"100103type=1&q={keyword}", safe="")
        return self.api(f"containerid={cid}&page_type=searchall&page={page}")

    def timeline_url(self, uid: str, page: int) -> str:
        return self.api(f"containerid=107603{uid}&page={page}")

    async def start(self):
        for kw in self.src.keywords:
            req = self.list_request(
                self.search_url(kw, 1),
                self.parse_page,
                cb_kwargs={"kind": "search", "key": kw, "page": 1},
            )
            if req is not None:
                yield req
        for uid in self.src.uids:
            req = self.list_request(
                self.timeline_url(uid, 1),
                self.parse_page,
                cb_kwargs={"kind": "user", "key": uid, "page": 1},
            )
            if req is not None:
                yield req

    def parse_page(self, response: Response, kind: str, key: str, page: int):
        try:
            data = json.loads(response.text)
        except ValueError:
            self.crawler.stats.inc_value("yuqing/errors/bad_json")
            return
        if not isinstance(data, dict) or data.get("ok") not in (1, "1"):
            if (
                isinstance(data, dict)
                and data.get("ok") == 0
                and not (data.get("data") or {}).get("cards")
            ):
                self.list_ok()  # "这里还没有内容": the end of the list
                return
            self.crawler.stats.inc_value("yuqing/errors/api_not_ok")
            return
        self.list_ok()
        mblogs = list(iter_mblogs(data))
        known = 0
        for mblog in mblogs:
            mid = str(mblog.get("id") or mblog.get("mid") or "")
            if not mid:
                continue
            state = self.claim(id_key(mid))
            if state != "new":
                known += state == "seen"
                continue
            yield from self.emit(mblog)
        if not mblogs or (known and self.src.stop_at_known):
            return
        nxt = (
            self.search_url(key, page + 1) if kind == "search" else self.timeline_url(key, page + 1)
        )
        req = self.list_request(
            nxt, self.parse_page, cb_kwargs={"kind": kind, "key": key, "page": page + 1}
        )
        if req is not None:
            yield req

    def fields(self, mblog: dict[str, Any], text: str | None = None) -> dict[str, Any]:
        mid = str(mblog.get("id") or mblog.get("mid"))
        user = mblog.get("user") or {}
        return {
            "native_id": mid,
            "url": f"{self.rt.base('https://m.weibo.cn')}/detail/{mid}",
            "text": text if text is not None else html_text(mblog.get("text")),
            "published_at": mblog.get("created_at"),
            "author_id": str(user["id"]) if user.get("id") else None,
            "author_name": user.get("screen_name"),
            "region": mblog.get("region_name"),
            "reposts": mblog.get("reposts_count"),
            "comments": mblog.get("comments_count"),
            "likes": mblog.get("attitudes_count"),
            "extra": {"bid": mblog.get("bid")} if mblog.get("bid") else {},
        }

    def emit(self, mblog: dict[str, Any]):
        original = mblog.get("retweeted_status")
        parent = None
        if isinstance(original, dict) and original.get("id") and original.get("user"):
            parent = str(original["id"])
            if not self.is_known(id_key(parent)):
                self.requested.add(id_key(parent))
                yield from self.with_long_text(original, None)
        yield from self.with_long_text(mblog, parent)

    def with_long_text(self, mblog: dict[str, Any], parent: str | None):
        fields = self.fields(mblog)
        if parent:
            fields["parent_native_id"] = parent
        if mblog.get("isLongText"):
            yield self.detail_request(
                fields["url"],
                self.parse_detail,
                errback=self.long_text_failed,
                cb_kwargs={"fields": fields},
                meta={"fields": fields},
            )
        else:
            yield self.item(**fields)

    def parse_detail(self, response: Response, fields: dict[str, Any]):
        m = _RENDER.search(response.text)
        try:
            status = json.loads(m.group(1))[0]["status"] if m else None
        except (ValueError, KeyError, IndexError, TypeError):
            status = None
        if status and status.get("text"):
            fields = {**fields, "text": html_text(status["text"])}
        else:
            self.crawler.stats.inc_value("yuqing/errors/long_text_missing")
        yield self.item(**fields)

    def long_text_failed(self, failure):
        self.on_error(failure)
        fields = failure.request.meta.get("fields")
        if fields:  # keep the truncated text rather than lose the post
            yield self.item(**fields)
