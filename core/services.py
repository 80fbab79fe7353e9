"""Everything a running process holds open, built once from the settings.

The API, the CLI and the background workers share this object; later components (alert
engine, crawl scheduler, grid registry) attach themselves in :meth:`Services.start_workers`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings
from core.db import connect
from core.keys import KeyStore
from core.pipeline import Context, Pipeline, build_pipeline
from core.processor import Processor
from core.queue import Inbox
from store.base import Store
from store.factory import open_store

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    store: Store
    inbox: Inbox
    app_db: sqlite3.Connection
    keys: KeyStore
    _pipeline: Pipeline | None = None
    processor: Processor | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    workers: list[Any] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        settings.ensure_dirs()
        store = open_store(settings)
        inbox = Inbox(settings.path(settings.queue.path), settings.queue.max_attempts)
        app_db = connect(settings.path(settings.app_db), durable=True)
        from core import labels

        labels.ensure_schema(app_db)  # once, before threads share the connection
        return cls(
            settings=settings, store=store, inbox=inbox, app_db=app_db, keys=KeyStore(app_db)
        )

    @property
    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = build_pipeline(Context(self.settings, self.store, self.extras))
            return self._pipeline

    def make_processor(self) -> Processor:
        if self.processor is None:
            q = self.settings.queue
            self.processor = Processor(
                self.inbox, self.pipeline, self.store, q.batch_size, q.poll_interval
            )
        return self.processor

    def start_workers(self) -> None:
        """Start the background parts of ``yuqing run``: processor, then what later issues add."""
        proc = self.make_processor()
        for starter in WORKER_STARTERS:
            try:
                worker = starter(self)
            except Exception as exc:
                log.error("could not start %s: %s", getattr(starter, "__name__", starter), exc)
                raise
            if worker is not None:
                self.workers.append(worker)
        proc.start()

    def close(self) -> None:
        for w in reversed(self.workers):
            stop = getattr(w, "stop", None)
            if callable(stop):
                stop()
        if self.processor is not None:
            self.processor.stop()
        self.store.close()
        self.inbox.close()
        self.app_db.close()


# Callables taking Services and returning a started worker with .stop() (or None).
# Alert engine and crawl scheduler register here as they land.
WORKER_STARTERS: list[Any] = []

from alerts import start_engine as _start_alerts  # noqa: E402  (issue 7: alert engine)

WORKER_STARTERS.append(_start_alerts)

from crawler.scheduler import start_scheduler as _start_crawl  # noqa: E402  (issue 6: crawls)

WORKER_STARTERS.append(_start_crawl)

from api.warmup import start_warmup as _start_dashboard_warmup  # noqa: E402  (issue 9: dashboard)

WORKER_STARTERS.append(_start_dashboard_warmup)
