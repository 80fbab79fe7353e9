"""What a crawl process needs from the service's configuration.

A crawl runs as its own process (``python -m scrapy crawl …`` started by the scheduler or by
``scrapy crawl`` from ``crawler/``); it finds the service settings through ``$YUQING_CONFIG``,
else ``config/yuqing.yaml`` in the working directory, else the repository's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.config import Settings, load_settings
from crawler.config import REPO_ROOT, SourceConfig, load_sources, resolve_path


@lru_cache(maxsize=1)
def yuqing_settings() -> Settings:
    path = os.environ.get("YUQING_CONFIG")
    if not path and not Path("config/yuqing.yaml").exists():
        candidate = REPO_ROOT / "config" / "yuqing.yaml"
        if candidate.exists():
            settings = load_settings(candidate)
            # run from crawler/: keep the data where the service keeps it (repo-relative)
            if not Path(settings.data_dir).is_absolute():
                settings.data_dir = str(REPO_ROOT / settings.data_dir)
            return settings
    return load_settings(path)


def sources_for(settings: Settings) -> dict[str, SourceConfig]:
    return load_sources(resolve_path(settings.crawler.sources))


def user_agent(settings: Settings) -> str:
    ua = settings.crawler.user_agent
    if settings.crawler.contact:
        ua = f"{ua} contact: {settings.crawler.contact}"
    return ua


def proxy_for(settings: Settings, source: SourceConfig) -> str | None:
    if source.proxy:
        return source.proxy
    if settings.crawler.proxy_env and os.environ.get(settings.crawler.proxy_env):
        return os.environ[settings.crawler.proxy_env]
    return settings.crawler.proxy


@dataclass
class SourceRuntime:
    """The resolved source a spider works from."""

    settings: Settings
    source: SourceConfig

    @property
    def urls(self) -> list[str]:
        return self.source.resolved_urls(self.settings.crawler.fixture_url)

    def base(self, default: str) -> str:
        return self.source.resolved_base(self.settings.crawler.fixture_url, default)
