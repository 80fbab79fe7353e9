"""``yuqing demo`` hook: serve the fixture site on 127.0.0.1 and crawl every demo source once."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


def crawl_fixture_site(services, args) -> None:
    from core.commands.data import wait_or_process
    from crawler.config import SourcesError
    from crawler.fixtures.server import FixtureServer
    from crawler.runner import run_source
    from crawler.runtime import sources_for

    settings = services.settings
    try:
        demo = [s for s in sources_for(settings).values() if s.demo]
    except SourcesError as exc:
        print(f"demo: crawler skipped ({exc})")
        return
    if not demo:
        return
    url = urlsplit(settings.crawler.fixture_url)
    try:
        server = FixtureServer(url.hostname or "127.0.0.1", url.port or 8765).start()
    except OSError as exc:
        print(f"demo: crawler skipped, cannot serve the fixture site on {url.netloc}: {exc}")
        return
    try:
        total = 0
        for src in demo:
            result = run_source(settings, src, timeout=120)
            total += result.items
            state = "ok" if result.ok else f"failed ({result.message})"
            print(f"demo: crawled {src.name}: {result.items} posts, {state}")
        print(f"demo: crawled the local fixture site ({total} posts); {wait_or_process(services)}")
    finally:
        server.stop()
