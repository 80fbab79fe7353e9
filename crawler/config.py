"""Config section ``crawler`` and the sources file it names.

Sources are data, not code: each entry picks one of four generic spiders (rss, html, weibo,
tieba) and gives its URLs, selectors and limits. This module must not import ``core.config``
(which imports it), so it defines its own ``Section`` base.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

REPO_ROOT = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- import of the internal lines -----------------------------------------------------------
HOTLINE_COLUMNS: dict[str, list[str]] = {
    "id": ["工单编号", "工单号", "受理编号", "编号", "id"],
    "title": ["标题", "诉求标题", "主题", "title"],
    "text": ["来电内容", "诉求内容", "反映内容", "来电人反映", "内容", "text"],
    "published_at": ["受理时间", "来电时间", "登记时间", "创建时间", "published_at"],
    "address": ["事发地址", "诉求地址", "地址", "发生地点", "address"],
}
HOTLINE_EXTRA: dict[str, list[str]] = {
    "category": ["诉求类别", "问题分类", "类别", "诉求类型"],
    "status": ["办理状态", "状态"],
    "department": ["承办单位", "办理单位", "责任单位"],
    "street": ["所属街道", "街道"],
    "community": ["所属社区", "社区"],
}
PETITION_COLUMNS: dict[str, list[str]] = {
    "id": ["信访件编号", "信访编号", "件号", "编号", "id"],
    "title": ["信访事项", "事项标题", "标题", "title"],
    "text": ["主要诉求", "信访内容", "反映内容", "诉求内容", "内容", "text"],
    "published_at": ["登记日期", "信访日期", "来信来访日期", "登记时间", "published_at"],
    "address": ["问题属地", "事发地址", "地址", "发生地", "address"],
}
PETITION_EXTRA: dict[str, list[str]] = {
    "form": ["信访形式", "来信来访形式"],
    "status": ["办理状态", "状态"],
    "department": ["责任单位", "承办单位"],
    "street": ["所属街道", "街道"],
}


class ImportLine(Section):
    """How one internal line's exports map onto posts. Names of callers are never mapped."""

    source: str
    source_type: Literal["hotline", "petition"]
    columns: dict[str, list[str]]
    extra: dict[str, list[str]] = {}
    sheet: str | None = None  # Excel sheet; default the first

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        allowed = {"id", "title", "text", "published_at", "address"}
        unknown = set(v) - allowed
        if unknown:
            raise ValueError(
                f"unknown column fields {sorted(unknown)} (allowed: {sorted(allowed)})"
            )
        for need in ("text", "published_at"):
            if not v.get(need):
                raise ValueError(f"columns.{need} needs at least one header name")
        return v


def _default_imports() -> dict[str, ImportLine]:
    return {
        "hotline": ImportLine(
            source="hotline_12345",
            source_type="hotline",
            columns=HOTLINE_COLUMNS,
            extra=HOTLINE_EXTRA,
        ),
        "petition": ImportLine(
            source="petition",
            source_type="petition",
            columns=PETITION_COLUMNS,
            extra=PETITION_EXTRA,
        ),
    }


class CrawlerConfig(Section):
    sources: str = "config/sources.yaml"  # relative: to the working directory, else the repo
    user_agent: str = (
        "yuqing-monitor/0.1 (public-opinion monitoring for 历城区 grid governance; "
        "obeys robots.txt)"
    )
    contact: str | None = None  # appended to the user agent, e.g. an operator mailbox
    autothrottle: bool = True
    autothrottle_target_concurrency: float = Field(1.0, gt=0, le=16)
    max_parallel: int = Field(2, ge=1, le=32, description="crawl processes at once")
    run_timeout: float = Field(900, gt=0, description="seconds before a crawl process is killed")
    seen_db: str = "crawl/seen.db"
    jobs_dir: str = "crawl/jobs"
    proxy: str | None = None  # default proxy URL for every source (per-source proxy wins)
    proxy_env: str | None = None  # or read the proxy URL (with credentials) from this env var
    fixture_url: str = "http://127.0.0.1:8765"  # the local fixture site for demo/test sources
    imports: dict[str, ImportLine] = Field(default_factory=_default_imports)


# ---- the sources file --------------------------------------------------------------------------
class Selectors(Section):
    """CSS selectors, or XPath when the string starts with ``/`` or ``(``."""

    item_links: str
    next_page: str | None = None
    # forum lists: each row's reply count (the row is the element around an item link that
    # matches ``item_row``); a stored thread whose count changed is read again for new floors
    item_row: str | None = None
    row_link: str | None = None  # the item link inside a row
    row_replies: str | None = None
    title: str | None = None
    body: str | None = None
    date: str | None = None
    author: str | None = None
    replies: str | None = None
    views: str | None = None
    item_id: str | None = None  # regex over the detail URL; group 1 is the native id
    # 领导留言板-style boards: the official reply kept with the citizen's message
    reply_body: str | None = None
    reply_org: str | None = None
    reply_date: str | None = None
    # Discuz!-style threads: every floor is a post, floors after the first reply to it
    floors: str | None = None
    floor_id: str | None = None  # selector for an attribute/text holding the floor id
    floor_body: str | None = None
    floor_author: str | None = None
    floor_date: str | None = None
    floor_next_page: str | None = None  # a thread's next page of floors (Discuz: a.nxt)


class SourceConfig(Section):
    name: str
    spider: Literal["rss", "html", "weibo", "tieba"]
    source_type: Literal["news", "forum", "microblog", "message_board"]
    enabled: bool = False
    demo: bool = False  # a source on the local fixture site ({fixture} in URLs)
    description: str | None = None
    urls: list[str] = []
    interval_minutes: float = Field(30, ge=1)
    follow: bool = True  # rss: fetch the article page for the full text
    selectors: Selectors | None = None
    keywords: list[str] = []  # weibo search
    uids: list[str] = []  # weibo user timelines
    forums: list[str] = []  # tieba forum names
    base_url: str | None = (
        None  # weibo/tieba API host (https://m.weibo.cn, https://tieba.baidu.com)
    )
    region: str | None = None  # default region string for geotagging when a post has none
    obey_robots: bool = True
    robots_reason: str | None = None
    delay: float = Field(1.0, ge=0, le=600, description="seconds between requests to a site")
    concurrency: int = Field(2, ge=1, le=64)
    timeout: float = Field(20, gt=0, le=600)
    retries: int = Field(3, ge=0, le=10)
    backoff_max: float = Field(60, ge=0, le=3600, description="longest wait before a retry")
    max_pages: int = Field(5, ge=1, le=10_000, description="list/feed pages per run")
    max_items: int = Field(500, ge=1, le=1_000_000, description="detail pages per run")
    max_thread_pages: int = Field(
        20, ge=1, le=1000, description="pages of floors read per forum thread"
    )
    max_page_bytes: int = Field(5_000_000, ge=10_000, le=200_000_000)
    max_run_seconds: float = Field(600, gt=0)
    stop_at_known: bool = True  # stop paginating when a list page shows known items
    proxy: str | None = None
    encoding: str | None = None  # force a page encoding when a site declares it wrongly
    headers: dict[str, str] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("name must be lower-case ASCII letters, digits, _ or - (≤63 chars)")
        return v

    @model_validator(mode="after")
    def _shape(self) -> SourceConfig:
        if not self.obey_robots and not (self.robots_reason and self.robots_reason.strip()):
            raise ValueError("obey_robots: false needs robots_reason (why ignoring it is allowed)")
        if self.spider in ("rss", "html") and not self.urls:
            raise ValueError(f"a {self.spider} source needs urls")
        if self.spider == "html" and self.selectors is None:
            raise ValueError("an html source needs selectors (at least item_links)")
        if self.spider == "weibo" and not (self.keywords or self.uids):
            raise ValueError("a weibo source needs keywords or uids")
        if self.spider == "tieba" and not (self.forums or self.urls):
            raise ValueError("a tieba source needs forums (or list urls)")
        return self

    def resolved_urls(self, fixture_url: str) -> list[str]:
        return [u.replace("{fixture}", fixture_url.rstrip("/")) for u in self.urls]

    def resolved_base(self, fixture_url: str, default: str) -> str:
        return (self.base_url or default).replace("{fixture}", fixture_url.rstrip("/")).rstrip("/")


class SourcesFile(Section):
    sources: list[SourceConfig] = []

    @model_validator(mode="after")
    def _unique(self) -> SourcesFile:
        names = [s.name for s in self.sources]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate source names: {sorted(dup)}")
        return self


class SourcesError(Exception):
    """The sources file is missing or invalid (one line)."""


def resolve_path(path: str) -> Path:
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p.resolve() if p.exists() else p
    alt = REPO_ROOT / p
    return alt if alt.exists() else p


def load_sources(path: str | Path) -> dict[str, SourceConfig]:
    p = resolve_path(str(path))
    if not p.exists():
        raise SourcesError(f"sources file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SourcesError(
            f"sources file {p} is not valid YAML: {str(exc).splitlines()[0]}"
        ) from None
    if isinstance(data, list):
        data = {"sources": data}
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
                items = data.get("sources") or []
                idx = loc[1]
                name = (
                    items[idx].get("name")
                    if idx < len(items) and isinstance(items[idx], dict)
                    else None
                )
                loc = [f"sources[{name or idx}]", *loc[2:]]
            parts.append(f"{'.'.join(str(x) for x in loc)}: {err['msg']}")
        raise SourcesError(f"invalid sources file {p}: " + "; ".join(parts)) from None
    return {s.name: s for s in parsed.sources}
