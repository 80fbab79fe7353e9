"""The 24/7 crawl schedule of ``yuqing run``: every enabled source on its interval.

One thread decides what is due; each crawl runs in its own process (``crawler.runner``) on a
small pool, so a slow or failing source never holds up the others. The sources file is re-read
when it changes, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from core.config import Settings
from crawler import health
from crawler.config import SourceConfig, SourcesError, load_sources, resolve_path
from crawler.runner import RunResult, run_source

log = logging.getLogger(__name__)


class CrawlScheduler:
    def __init__(self, settings: Settings, app_db=None, tick: float = 1.0) -> None:
        self.settings = settings
        self.tick = tick
        self.stop_event = threading.Event()
        self.pool = ThreadPoolExecutor(
            max_workers=settings.crawler.max_parallel, thread_name_prefix="crawl"
        )
        self.running: dict[str, Future] = {}
        self.last_start: dict[str, float] = {}
        self.sources: dict[str, SourceConfig] = {}
        self._mtime: float | None = None
        self._thread: threading.Thread | None = None
        self.results: list[RunResult] = []
        if app_db is not None:
            health.close_orphans(app_db)
            for h in health.source_health(app_db):
                if h["last_start"]:
                    self.last_start[h["source"]] = h["last_start"]
            health.refresh_gauges(app_db)

    def reload(self) -> None:
        path = Path(resolve_path(self.settings.crawler.sources))
        try:
            mtime = path.stat().st_mtime
        except OSError:
            if self._mtime is not None or not self.sources:
                log.error("crawl: sources file %s not found; nothing scheduled", path)
            self._mtime, self.sources = None, {}
            return
        if mtime == self._mtime:
            return
        try:
            sources = load_sources(path)
        except SourcesError as exc:
            log.error("crawl: %s (keeping the previous sources)", exc)
            self._mtime = mtime
            return
        self._mtime = mtime
        self.sources = {n: s for n, s in sources.items() if s.enabled}
        log.info("crawl: %d enabled sources: %s", len(self.sources), ", ".join(self.sources) or "-")

    def due(self, now: float) -> list[SourceConfig]:
        out = []
        for name, src in self.sources.items():
            if name in self.running:
                continue
            last = self.last_start.get(name)
            if last is None or now - last >= src.interval_minutes * 60:
                out.append(src)
        return sorted(out, key=lambda s: self.last_start.get(s.name, 0))

    def step(self, now: float | None = None) -> list[str]:
        """One scheduling pass; returns the names started (used by tests)."""
        now = now or time.time()
        for name, fut in list(self.running.items()):
            if fut.done():
                del self.running[name]
        self.reload()
        started = []
        for src in self.due(now):
            if len(self.running) >= self.settings.crawler.max_parallel:
                break
            self.last_start[src.name] = now
            self.running[src.name] = self.pool.submit(self._run, src)
            started.append(src.name)
        return started

    def _run(self, src: SourceConfig) -> RunResult:
        try:
            result = run_source(self.settings, src, stop=self.stop_event)
        except Exception as exc:  # never let one source end the schedule
            log.exception("crawl %s failed to run", src.name)
            result = RunResult(src.name, ok=False, message=str(exc))
        level = logging.INFO if result.ok else logging.WARNING
        log.log(
            level,
            "crawl %s: %s, %d items, %d rejected, %d pages in %.1fs%s",
            src.name,
            "ok" if result.ok else "FAILED",
            result.items,
            result.rejected,
            result.pages,
            result.seconds,
            f" ({result.message})" if result.message else "",
        )
        self.results = (self.results + [result])[-100:]
        return result

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.step()
            except Exception:
                log.exception("crawl scheduler pass failed")
            self.stop_event.wait(self.tick)

    def start(self) -> CrawlScheduler:
        self._thread = threading.Thread(target=self._loop, name="crawl-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)


def start_scheduler(services) -> CrawlScheduler:
    """WORKER_STARTERS entry: the crawl schedule of ``yuqing run``."""
    return CrawlScheduler(services.settings, services.app_db).start()
