"""Warm the dashboard's first screen when ``yuqing run`` starts (a ``WORKER_STARTERS`` entry).

The first map request would otherwise build the geotagger and dissolve the street outlines
(about a second on two cores) while the user waits; a background thread does it at start.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class _Warmup:
    def __init__(self, services) -> None:
        self.thread = threading.Thread(
            target=self._run, args=(services,), name="dashboard-warmup", daemon=True
        )
        self.thread.start()

    @staticmethod
    def _run(services) -> None:
        started = time.perf_counter()
        try:
            from api.routers.dashboard import street_collection

            street_collection(services)
            log.info("dashboard warm-up done in %.0f ms", (time.perf_counter() - started) * 1000)
        except Exception as exc:  # warming is an optimisation: the request path still works
            log.warning("dashboard warm-up skipped: %s", exc)

    def stop(self) -> None:
        self.thread.join(timeout=5)


def start_warmup(services) -> _Warmup:
    return _Warmup(services)
