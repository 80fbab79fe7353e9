"""Baidu Tieba: forum thread lists (``li.j_thread_list`` with ``data-field`` JSON) and floors.

Tieba ships the list inside HTML comments of ``<code>`` blocks for its client-side renderer;
both that and plain markup are read. Floor 1 is the thread post; later floors reply to it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from parsel import Selector
from scrapy.http import Response

from crawler.extract import node_text
from crawler.normalise import clean_text
from crawler.seen import id_key
from crawler.spiders.base import SourceSpider

_COMMENT = re.compile(r"<!--(.*?)-->", re.S)
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}")
_IP = re.compile(r"IP属地[:：]\s*(\S+)")


def _field(node: Selector) -> dict[str, Any]:
    try:
        data = json.loads(node.attrib.get("data-field") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def thread_nodes(response: Response) -> list[Selector]:
    nodes = list(response.css("li.j_thread_list"))
    if nodes:
        return nodes
    for chunk in _COMMENT.findall(response.text):
        if "j_thread_list" in chunk:
            nodes.extend(Selector(text=chunk).css("li.j_thread_list"))
    return nodes


class TiebaSpider(SourceSpider):
    name = "tieba"

    async def start(self):
        base = self.rt.base("https://tieba.baidu.com")
        urls = [f"{base}/f?kw={quote(f)}&ie=utf-8&pn=0" for f in self.src.forums] + self.rt.urls
        for url in urls:
            req = self.list_request(url, self.parse_list)
            if req is not None:
                yield req

    def parse_list(self, response: Response):
        nodes = thread_nodes(response)
        if not nodes:
            self.crawler.stats.inc_value("yuqing/errors/empty_list")
            return
        self.list_ok()
        known = 0
        for node in nodes:
            data = _field(node)
            tid = str(data.get("id") or "")
            href = node.css("a.j_th_tit::attr(href)").get()
            if not tid and href:
                m = re.search(r"/p/(\d+)", href)
                tid = m.group(1) if m else ""
            if not tid:
                self.crawler.stats.inc_value("yuqing/errors/thread_without_id")
                continue
            state = self.claim(id_key(f"t{tid}"))
            if state != "new":
                # pinned threads stay on top whatever their age: they say nothing of the rest
                known += state == "seen" and not data.get("is_top")
                continue
            listing = {
                "title": clean_text(
                    node.css("a.j_th_tit::attr(title)").get() or node.css("a.j_th_tit::text").get()
                ),
                "abstract": node_text(node.css("div.threadlist_abs")[0])
                if node.css("div.threadlist_abs")
                else "",
                "reply_num": data.get("reply_num"),
                "is_top": bool(data.get("is_top")),
            }
            url = response.urljoin(href or f"/p/{tid}")
            yield self.detail_request(
                url, self.parse_thread, cb_kwargs={"tid": tid, "listing": listing}
            )
        if known and self.src.stop_at_known:
            self.crawler.stats.inc_value("yuqing/stopped_at_known")
            return
        nxt = response.css("a.next::attr(href)").get()
        if nxt:
            req = self.list_request(response.urljoin(nxt), self.parse_list)
            if req is not None:
                yield req

    def parse_thread(self, response: Response, tid: str, listing: dict[str, Any]):
        floors = response.css("div.l_post")
        if not floors:
            self.crawler.stats.inc_value("yuqing/errors/no_floors")
            return
        for n, floor in enumerate(floors, 1):
            data = _field(floor)
            author = data.get("author") or {}
            content = data.get("content") or {}
            post_no = int(content.get("post_no") or n)
            tails = " ".join(floor.css(".tail-info::text, .post-tail-wrap span::text").getall())
            date = content.get("date") or (
                _DATE.search(tails).group(0) if _DATE.search(tails) else None
            )
            ip = _IP.search(tails)
            body_nodes = floor.css("div.d_post_content")
            text = node_text(body_nodes[0]) if body_nodes else ""
            fields: dict[str, Any] = {
                "text": text,
                "published_at": date,
                "author_id": str(author.get("user_id") or "") or None,
                "author_name": author.get("user_name"),
                "region": ip.group(1) if ip else None,
                "extra": {"floor": post_no},
            }
            if post_no == 1:
                fields.update(
                    native_id=f"t{tid}",
                    url=response.url,
                    title=listing.get("title"),
                    comments=listing.get("reply_num"),
                )
                if listing.get("is_top"):
                    fields["extra"]["is_top"] = True
            else:
                pid = str(content.get("post_id") or f"{tid}-{post_no}")
                if self.is_known(id_key(f"p{pid}")):
                    continue
                fields.update(
                    native_id=f"p{pid}", url=f"{response.url}#{pid}", parent_native_id=f"t{tid}"
                )
            yield self.item(**fields)
