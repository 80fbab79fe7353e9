"""List → detail crawling driven by selectors from the sources file.

One spider covers news sites (title/body/date), 领导留言板-style boards (citizen message plus the
official reply, kept in ``extra.reply``) and Discuz!-style threads (``floors``: every floor is a
post; floors after the first point to it through ``parent_id``).
"""

from __future__ import annotations

import hashlib
import re

from scrapy.http import Response

from core.schema import canonical_url
from crawler.dates import parse_count
from crawler.extract import all_values, first_text, main_text, page_date, select
from crawler.seen import id_key, replies_key, url_key
from crawler.spiders.base import SourceSpider


class HtmlSpider(SourceSpider):
    name = "html"

    async def start(self):
        for url in self.rt.urls:
            req = self.list_request(url, self.parse_list)
            if req is not None:
                yield req

    def native_id(self, url: str) -> str | None:
        pattern = self.src.selectors.item_id
        if not pattern:
            return None
        m = re.search(pattern, url)
        return (m.group(1) if m.groups() else m.group(0)) if m else None

    def parse_list(self, response: Response):
        sel = self.src.selectors
        links = []
        for href in all_values(response.selector, sel.item_links):
            url = response.urljoin(href)
            if url.startswith(("http://", "https://")) and url not in links:
                links.append(url)
        if not links:
            self.crawler.stats.inc_value("yuqing/errors/empty_list")
            return
        self.list_ok()
        replies = self._row_replies(response)
        known = 0
        for url in links:
            nid = self.native_id(url)
            keys = [url_key(url)] + ([id_key(nid)] if nid else [])
            state = self.claim(*keys)
            if state == "seen" and url in replies:
                refresh = self._refresh(url, nid, replies[url])
                if refresh is not None:
                    yield refresh
            if state != "new":
                known += state == "seen"
                continue
            yield self.detail_request(url, self.parse_detail, cb_kwargs={"native_id": nid})
        if known and self.src.stop_at_known:
            self.crawler.stats.inc_value("yuqing/stopped_at_known")
            return
        nxt = first_text(response.selector, sel.next_page) if sel.next_page else None
        if nxt:
            req = self.list_request(response.urljoin(nxt), self.parse_list)
            if req is not None:
                yield req

    def _row_replies(self, response: Response) -> dict[str, int]:
        """Reply count per item URL, from list rows (forums), when the source names them."""
        sel = self.src.selectors
        if not (sel.item_row and sel.row_link and sel.row_replies):
            return {}
        out = {}
        for row in select(response.selector, sel.item_row):
            href, n = first_text(row, sel.row_link), first_text(row, sel.row_replies)
            if href and n is not None:
                out[response.urljoin(href)] = parse_count(n)
        return out

    def _refresh(self, url: str, nid: str | None, replies: int):
        """A stored thread whose reply count changed is read again: known floors are skipped,
        new ones become posts, and the thread post itself is updated (its reply count)."""
        if (
            self.is_known(replies_key(_thread_id(url, nid), replies))
            or url_key(url) in self.requested
        ):
            return None
        if not self.reserve(url_key(url)):
            return None
        self.crawler.stats.inc_value("yuqing/thread_refresh")
        return self.detail_request(
            url, self.parse_detail, cb_kwargs={"native_id": nid}, dont_filter=True
        )

    def parse_detail(self, response: Response, native_id: str | None = None):
        sel = self.src.selectors
        page = response.selector
        if sel.floors:
            yield from self._floors(response, native_id)
            return
        title = first_text(page, sel.title) or first_text(page, "title::text")
        body = first_text(page, sel.body) if sel.body else main_text(response.text, response.url)
        date = first_text(page, sel.date) if sel.date else page_date(page)
        fields = {
            "url": response.url,
            "native_id": native_id,
            "title": title,
            "text": body or "",
            "published_at": date,
            "author_name": first_text(page, sel.author),
        }
        if sel.replies:
            fields["comments"] = first_text(page, sel.replies)
        if sel.views:
            fields["views"] = first_text(page, sel.views)
        reply = first_text(page, sel.reply_body) if sel.reply_body else None
        if reply:
            fields["extra"] = {
                "reply": {
                    "text": reply,
                    "org": first_text(page, sel.reply_org),
                    "date": first_text(page, sel.reply_date),
                }
            }
        yield self.item(**fields)

    def _floors(
        self,
        response: Response,
        native_id: str | None,
        base: str | None = None,
        page_no: int = 1,
        offset: int = 0,
    ):
        """Floors of one thread page; later pages (``page_no`` > 1) hold replies only."""
        sel = self.src.selectors
        page = response.selector
        title = first_text(page, sel.title)
        floors = select(page, sel.floors)
        if not floors:
            self.crawler.stats.inc_value("yuqing/errors/no_floors")
            return
        if base is None:
            base = _thread_id(response.url, native_id)
        for n, floor in enumerate(floors, offset + 1):
            raw_id = first_text(floor, sel.floor_id) if sel.floor_id else None
            digits = re.search(r"\d+", raw_id or "")
            floor_id = digits.group(0) if digits else str(n)
            fid = base if n == 1 else f"{base}-{floor_id}"
            if n > 1 and self.is_known(id_key(fid)):
                continue
            fields = {
                "native_id": fid,
                "url": response.url if n == 1 else f"{response.url}#pid{floor_id}",
                "title": title if n == 1 else None,
                "text": first_text(floor, sel.floor_body) or "",
                "published_at": first_text(floor, sel.floor_date),
                "author_name": first_text(floor, sel.floor_author),
                "extra": {"floor": n},
            }
            if n == 1:
                if sel.replies:
                    fields["comments"] = first_text(page, sel.replies)
                    if fields["comments"] is not None:  # read again when the count changes
                        fields["seen_also"] = [replies_key(base, parse_count(fields["comments"]))]
                if sel.views:
                    fields["views"] = first_text(page, sel.views)
            else:
                fields["parent_native_id"] = base
            yield self.item(**fields)
        nxt = first_text(page, sel.floor_next_page) if sel.floor_next_page else None
        if nxt:
            url = response.urljoin(nxt)
            if page_no >= self.src.max_thread_pages:
                self.crawler.stats.inc_value("yuqing/max_thread_pages_reached")
            elif url.startswith(("http://", "https://")) and url_key(url) not in self.requested:
                self.requested.add(url_key(url))  # a page linking back to itself stops here
                self.crawler.stats.inc_value("yuqing/thread_pages")
                yield self.detail_request(
                    url,
                    self._floors,
                    cb_kwargs={
                        "native_id": native_id,
                        "base": base,
                        "page_no": page_no + 1,
                        "offset": offset + len(floors),
                    },
                )


def _thread_id(url: str, native_id: str | None) -> str:
    return native_id or hashlib.sha1(canonical_url(url).encode()).hexdigest()[:16]
