"""Choose the store backend from configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import Settings
    from store.base import Store


def open_store(settings: Settings) -> Store:
    backend = settings.store.backend
    if backend == "sqlite":
        from store.sqlite import SqliteStore

        return SqliteStore(
            settings.path(settings.store.sqlite.path), settings.server.max_query_chars
        )
    if backend == "elasticsearch":
        from store.elasticsearch import ElasticsearchStore  # type: ignore[import-not-found]

        return ElasticsearchStore(settings.store.elasticsearch, settings.server.max_query_chars)
    raise ValueError(f"unknown store backend {backend!r}")
