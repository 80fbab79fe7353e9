"""Store backends the conformance suite runs against. Each factory yields a fresh, empty store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from store.base import Store


@contextmanager
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    from store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "store.db")
    try:
        yield store
    finally:
        store.close()


# name -> context manager factory(tmp_path). The Elasticsearch backend adds itself here.
BACKENDS: dict[str, Callable[[Path], object]] = {"sqlite": sqlite_store}
