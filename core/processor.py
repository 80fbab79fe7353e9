"""Takes batches from the inbox, enriches them, stores them, tells listeners, then acknowledges.

Listeners (the alert engine's match rules) run before the inbox rows are deleted: if one fails
the batch is retried, so an alert is never lost to a crash; listeners must therefore be
idempotent per post (the alert engine dedups by rule, key and post).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core import metrics
from core.pipeline import Pipeline
from core.queue import Claimed, Inbox
from core.schema import Post
from store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)

Listener = Callable[[list[Post]], None]


class Processor:
    def __init__(
        self,
        inbox: Inbox,
        pipeline: Pipeline,
        store: Store,
        batch_size: int = 256,
        poll_interval: float = 0.5,
        reload_interval: float = 30.0,
    ) -> None:
        self.inbox = inbox
        self.pipeline = pipeline
        self.store = store
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.listeners: list[Listener] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_batch_at: float | None = None
        # models promoted while running (``yuqing models promote``) are picked up between batches
        self.reload_interval = reload_interval
        self._last_reload = time.monotonic()
        self._outage = 0  # consecutive batches refused by an unavailable store
        self.max_outage_delay = 30.0
        released = inbox.release_dead_leases()
        if released:
            log.warning("resumed %d inbox records leased by a process that died", released)

    def add_listener(self, fn: Listener) -> None:
        self.listeners.append(fn)

    def _handle(self, claimed: list[Claimed]) -> None:
        posts = self.pipeline([c.post for c in claimed])
        self.store.upsert(posts)
        for fn in self.listeners:
            fn(posts)
        self.inbox.ack([c.seq for c in claimed])
        metrics.PROCESSED.inc(len(posts))

    def process_once(self) -> int:
        """Process one batch; returns the number of inbox rows handled."""
        claimed = self.inbox.claim(self.batch_size)
        if not claimed:
            return 0
        start = time.perf_counter()
        try:
            self._handle(claimed)
            self._outage = 0
        except StoreUnavailable as exc:  # a remote store is down: keep the batch, count nothing
            self._outage += 1
            delay = min(self.max_outage_delay, self.poll_interval * 2**self._outage)
            log.warning(
                "store unavailable (%s); %d posts stay in the inbox, retry in %.1fs",
                exc,
                len(claimed),
                delay,
            )
            self.inbox.release(claimed, delay, f"store unavailable: {exc}")
            return 0
        except Exception as exc:  # isolate the bad record(s) instead of failing the batch forever
            log.warning("batch of %d failed (%s); retrying one by one", len(claimed), exc)
            for n, c in enumerate(claimed):
                try:
                    self._handle([c])
                except StoreUnavailable as one_exc:
                    self.inbox.release(
                        claimed[n:], self.poll_interval, f"store unavailable: {one_exc}"
                    )
                    return 0
                except Exception as one_exc:
                    metrics.PROCESS_ERRORS.inc()
                    reason = f"{type(one_exc).__name__}: {one_exc}"
                    log.error("post %s failed processing: %s", c.post.id, reason)
                    if self.inbox.fail([c], reason):
                        metrics.REJECTED.labels("processing").inc()
        metrics.BATCH_SECONDS.observe(time.perf_counter() - start)
        self.last_batch_at = time.time()
        return len(claimed)

    def drain(self, max_batches: int | None = None) -> int:
        """Process until the inbox has nothing claimable (used by the CLI and tests)."""
        total, n = 0, 0
        while max_batches is None or n < max_batches:
            handled = self.process_once()
            if not handled:
                break
            total += handled
            n += 1
        return total

    def maybe_reload(self) -> list[str]:
        """Let model components switch to a newly promoted version (at most every interval)."""
        if time.monotonic() - self._last_reload < self.reload_interval:
            return []
        self._last_reload = time.monotonic()
        try:
            changed = self.pipeline.reload()
        except Exception:  # a bad model must not stop processing; the old one keeps serving
            log.exception("pipeline reload failed")
            return []
        if changed:
            log.info("reloaded pipeline components: %s", ", ".join(changed))
        return changed

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self.maybe_reload()
            try:
                handled = self.process_once()
            except Exception:  # keep the loop alive: the rows stay in the inbox
                log.exception("processor loop error")
                handled = 0
            if not handled:
                self._stop.wait(self.poll_interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="processor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
