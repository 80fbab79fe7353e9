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

# Elasticsearch: the noida-db emulator started once per test run, or $YUQING_ES_URL (a real cluster)
from es_emulator import es_store  # noqa: E402

BACKENDS["elasticsearch"] = es_store
