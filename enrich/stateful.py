"""Components with in-memory state (duplicate index, open events) rebuilt from the store.

Both keep a window of recent posts in memory; after a restart that window is read back from the
store before the first batch is processed, under the same lock that serialises batches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from core.schema import Post
from store.base import Filters, Store


class RebuiltFromStore:
    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._ready = store is None  # without a store the state starts empty, in memory
        self._lock = threading.Lock()

    def rebuild(self) -> int:
        """Load the state from the store; returns how many items were restored."""
        raise NotImplementedError

    @contextmanager
    def state(self) -> Iterator[None]:
        """Hold the state for one batch, rebuilding it first on first use."""
        with self._lock:
            if not self._ready:
                self.rebuild()
                self._ready = True
            yield

    def recent_posts(self, seconds: float) -> Iterator[Post]:
        if self.store is None:
            return iter(())
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        return self.store.iter_posts(Filters(since=since))
