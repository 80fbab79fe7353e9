"""Index backends behind one small protocol (embedded SQLite by default, Elasticsearch for clusters)."""

from store.base import Filters, SearchQuery, SearchResult, Store, StoreError
from store.factory import open_store

__all__ = ["Filters", "SearchQuery", "SearchResult", "Store", "StoreError", "open_store"]
