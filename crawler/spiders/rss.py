"""RSS 2.0 and Atom feeds, each item followed to its article page for the main text."""

from __future__ import annotations

from parsel import Selector
from scrapy.http import Response

from crawler.extract import main_text, page_date
from crawler.normalise import clean_text
from crawler.seen import url_key
from crawler.spiders.base import SourceSpider


def _html_to_text(fragment: str | None) -> str:
    if not fragment:
        return ""
    return clean_text(" ".join(Selector(text=f"<div>{fragment}</div>").xpath("//text()").getall()))


def feed_entries(response: Response) -> list[dict[str, str | None]]:
    """Entries of an RSS 2.0 or Atom feed (namespaces dropped; lxml recovers broken XML)."""
    sel = Selector(text=response.text, type="xml")
    sel.remove_namespaces()
    entries = []
    for it in sel.xpath("//item"):
        entries.append(
            {
                "title": it.xpath("string(title)").get(),
                "link": (it.xpath("string(link)").get() or "").strip()
                or (it.xpath("string(guid)").get() or "").strip(),
                "guid": (it.xpath("string(guid)").get() or "").strip() or None,
                "date": it.xpath("string(pubDate)").get() or it.xpath("string(date)").get(),
                "summary": it.xpath("string(description)").get()
                or it.xpath("string(encoded)").get(),
                "author": it.xpath("string(creator)").get() or it.xpath("string(author)").get(),
            }
        )
    for it in sel.xpath("//entry"):
        link = it.xpath("link[@rel='alternate']/@href").get() or it.xpath("link/@href").get()
        entries.append(
            {
                "title": it.xpath("string(title)").get(),
                "link": (link or "").strip(),
                "guid": (it.xpath("string(id)").get() or "").strip() or None,
                "date": it.xpath("string(published)").get() or it.xpath("string(updated)").get(),
                "summary": it.xpath("string(content)").get() or it.xpath("string(summary)").get(),
                "author": it.xpath("string(author/name)").get(),
            }
        )
    return entries


class RssSpider(SourceSpider):
    name = "rss"

    async def start(self):
        for url in self.rt.urls:
            req = self.list_request(url, self.parse_feed)
            if req is not None:
                yield req

    def parse_feed(self, response: Response):
        entries = feed_entries(response)
        if not entries:
            self.crawler.stats.inc_value("yuqing/errors/empty_feed")
            return
        self.list_ok()
        for e in entries:
            link = response.urljoin(e["link"]) if e["link"] else None
            if not link or not link.startswith(("http://", "https://")):
                self.crawler.stats.inc_value("yuqing/errors/entry_without_link")
                continue
            if self.claim(url_key(link)) != "new":
                continue
            summary = _html_to_text(e["summary"])
            fields = {
                "url": link,
                "title": clean_text(e["title"]),
                "published_at": (e["date"] or "").strip() or None,
                "author_name": clean_text(e["author"]) or None,
                "text": summary,
                "extra": {"feed": response.url, "guid": e["guid"]} if e["guid"] else {},
            }
            if self.src.follow:
                yield self.detail_request(link, self.parse_article, cb_kwargs={"entry": fields})
            else:
                yield self.item(**fields)

    def parse_article(self, response: Response, entry: dict):
        fields = dict(entry)
        body = main_text(response.text, response.url)
        if body:
            fields["text"] = body
        if not fields.get("published_at"):
            fields["published_at"] = page_date(response.selector)
        if not fields.get("title"):
            fields["title"] = clean_text(response.css("title::text").get())
        fields["url"] = entry["url"]
        if response.url != entry["url"]:
            fields["extra"] = {**fields.get("extra", {}), "final_url": response.url}
        yield self.item(**fields)
