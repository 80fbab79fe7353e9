"""Selector helpers (CSS or XPath from config) and main-text extraction."""

from __future__ import annotations

import re

import trafilatura
from parsel import Selector, SelectorList

from crawler.normalise import clean_text

_BLOCK_TAGS = "p|div|br|li|tr|h[1-6]|blockquote|section|article|table"


def is_xpath(query: str) -> bool:
    return query.startswith(("/", "(", "./"))


def select(node: Selector, query: str | None) -> SelectorList:
    if not query:
        return SelectorList([])
    return node.xpath(query) if is_xpath(query) else node.css(query)


def node_text(sel: Selector) -> str:
    """Visible text of an element with block boundaries as newlines (scripts/styles dropped)."""
    root = sel.root
    if isinstance(root, str):
        return clean_text(root)
    parts = sel.xpath(
        ".//text()[not(ancestor::script) and not(ancestor::style)]"
        f" | .//*[re:test(local-name(), '^({_BLOCK_TAGS})$')]",
        namespaces={"re": "http://exslt.org/regular-expressions"},
    )
    out: list[str] = []
    for p in parts:
        if isinstance(p.root, str):
            out.append(p.root)
        else:
            out.append("\n")
    return clean_text("".join(out))


def first_text(node: Selector, query: str | None) -> str | None:
    """Text of the first match: a string result (``::text``, ``@attr``) or an element's text."""
    found = select(node, query)
    if not found:
        return None
    if all(isinstance(f.root, str) for f in found):
        text = clean_text(" ".join(f.root for f in found))
    else:
        text = node_text(found[0])
    return text or None


def all_values(node: Selector, query: str | None) -> list[str]:
    out = []
    for f in select(node, query):
        v = f.root if isinstance(f.root, str) else f.attrib.get("href") or node_text(f)
        if v and v.strip():
            out.append(v.strip())
    return out


def main_text(html: str, url: str | None = None) -> str | None:
    """The article body via trafilatura (dates are parsed elsewhere: it misreads Chinese ones)."""
    try:
        text = trafilatura.extract(
            html,
            url=url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            with_metadata=False,
            deduplicate=False,
        )
    except Exception:  # trafilatura on hostile markup: fall back to the caller's text
        return None
    return clean_text(text) or None


_DATE_HINT = re.compile(
    r"((?:19|20)\d{2}\s*[年\-/.]\s*\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*日?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?)"
)


def page_date(sel: Selector) -> str | None:
    """A publication date from meta tags or the first date-like text of the page."""
    for q in (
        "meta[property='article:published_time']::attr(content)",
        "meta[name='PubDate']::attr(content)",
        "meta[name='publishdate']::attr(content)",
        "meta[name='pubdate']::attr(content)",
        "time::attr(datetime)",
    ):
        v = sel.css(q).get()
        if v and v.strip():
            return v.strip()
    body = " ".join(sel.xpath("//body//text()[not(ancestor::script)]").getall())
    m = _DATE_HINT.search(body)
    return m.group(1) if m else None
