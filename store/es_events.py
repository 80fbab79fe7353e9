"""Event storage for the Elasticsearch backend (mixed into :class:`ElasticsearchStore`).

Events are few next to posts (one per incident), so they live in one index without rollover.
The record is kept whole in an ``enabled: false`` object (its dict keys — street names,
clustering terms — are data, not fields, and must never become mappings); the fields that
filter and sort sit beside it, computed exactly like the SQLite columns (times in whole
seconds, the main category). The title filter is a substring match like SQLite's ``instr``.
"""

from __future__ import annotations

from typing import Any

from store.base import QueryError, decode_cursor, encode_cursor
from store.events import Event, EventQuery, EventResult

EVENT_SORTS: dict[str, list[dict[str, Any]]] = {
    "heat": [{"heat": "desc"}, {"last_seen_s": "desc"}, {"id": "asc"}],
    "last_seen": [{"last_seen_s": "desc"}, {"id": "asc"}],
    "first_seen": [{"first_seen_s": "desc"}, {"id": "asc"}],
    "post_count": [{"post_count": "desc"}, {"last_seen_s": "desc"}, {"id": "asc"}],
}
_KEY_FIELDS = {
    "street": ("streets", "street_keys"),
    "grid_id": ("grids", "grid_keys"),
    "source_type": ("source_types", "source_type_keys"),
    "category": ("categories", "category_keys"),
}
_WILDCARD_SPECIAL = ("*", "?", "\\")
MAX_EVENT_WINDOW = 10_000


def events_mappings() -> dict[str, Any]:
    kw = {"type": "keyword"}
    return {
        "dynamic": False,
        "properties": {
            "id": kw,
            "title": kw,
            "first_seen_s": {"type": "long"},
            "last_seen_s": {"type": "long"},
            "post_count": {"type": "long"},
            "heat": {"type": "double"},
            "risk": kw,
            "category": kw,
            "street_keys": kw,
            "grid_keys": kw,
            "source_type_keys": kw,
            "category_keys": kw,
            "event": {"type": "object", "enabled": False},
        },
    }


def event_document(e: Event) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": e.id,
        "title": e.title,
        "first_seen_s": int(e.first_seen.timestamp()),
        "last_seen_s": int(e.last_seen.timestamp()),
        "post_count": e.post_count,
        "heat": e.heat,
        "risk": e.risk,
        "category": e.category,
        "event": e.model_dump(mode="json"),
    }
    for _, (attr, field) in _KEY_FIELDS.items():
        doc[field] = sorted(getattr(e, attr))
    return doc


def title_pattern(q: str) -> tuple[str, bool]:
    """A wildcard pattern for "title contains q"; True when wildcard characters in q had to be
    replaced by ``?`` (the emulator ignores escapes), so matches must be checked exactly."""
    exact = any(c in q for c in _WILDCARD_SPECIAL)
    body = "".join("?" if c in _WILDCARD_SPECIAL else c for c in q)
    return f"*{body}*", exact


def events_query_body(query: EventQuery) -> dict[str, Any]:
    flt: list[dict[str, Any]] = [{"range": {"post_count": {"gte": query.min_posts}}}]
    if query.since is not None:
        flt.append({"range": {"last_seen_s": {"gte": int(query.since.timestamp())}}})
    if query.until is not None:
        flt.append({"range": {"first_seen_s": {"lt": int(query.until.timestamp())}}})
    if query.risk:
        flt.append({"terms": {"risk": list(query.risk)}})
    for name, (_, field) in _KEY_FIELDS.items():
        values = getattr(query, name)
        if values:
            flt.append({"terms": {field: list(values)}})
    if query.q and query.q.strip():
        pattern, _ = title_pattern(query.q.strip())
        flt.append({"wildcard": {"title": {"value": pattern}}})
    return {"bool": {"filter": flt}}


class EsEventsMixin:
    """Needs ``self.es``, ``self.names``, ``self.cfg`` and ``self._error`` from the store."""

    def upsert_events(self, events: list[Event]) -> None:
        if not events:
            return
        from elasticsearch import helpers

        actions = [
            {
                "_op_type": "index",
                "_index": self.names.events_index,  # type: ignore[attr-defined]
                "_id": e.id,
                "_source": event_document(e),
            }
            for e in {e.id: e for e in events}.values()
        ]
        try:
            _, errors = helpers.bulk(
                self.es,  # type: ignore[attr-defined]
                actions,
                chunk_size=500,
                max_retries=self.cfg.bulk_max_retries,  # type: ignore[attr-defined]
                raise_on_error=False,
                refresh=self.cfg.write_refresh,  # type: ignore[attr-defined]
            )
        except Exception as exc:
            raise self._error("event write", exc) from None  # type: ignore[attr-defined]
        if errors:
            from store.base import StoreError

            first = next(iter(errors[0].values()))
            raise StoreError(
                f"elasticsearch rejected {len(errors)} event writes; first: {first.get('_id')}:"
                f" {first.get('error')}"
            )

    def get_event(self, event_id: str) -> Event | None:
        try:
            res = self.es.options(ignore_status=404).get(  # type: ignore[attr-defined]
                index=self.names.events_index,  # type: ignore[attr-defined]
                id=event_id,
            )
        except Exception as exc:
            raise self._error("event lookup", exc) from None  # type: ignore[attr-defined]
        body = res.body
        if not body.get("found"):
            return None
        return Event.model_validate(body["_source"]["event"])

    def search_events(self, query: EventQuery) -> EventResult:
        offset = 0
        if query.cursor:
            (offset,) = decode_cursor(query.cursor, 1)
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise QueryError("invalid cursor")
        q = (query.q or "").strip()
        _, exact = title_pattern(q) if q else ("", False)
        body: dict[str, Any] = {
            "query": events_query_body(query),
            "sort": EVENT_SORTS[query.sort],
            "track_total_hits": True,
        }
        if exact:  # wildcard characters in the text: fetch every candidate, check in Python
            body["size"] = MAX_EVENT_WINDOW
        else:
            if offset + query.size > MAX_EVENT_WINDOW:
                raise QueryError(f"event pages stop at {MAX_EVENT_WINDOW:,} events")
            body["size"] = query.size
            if offset:
                body["from"] = offset
        try:
            res = self.es.search(  # type: ignore[attr-defined]
                index=self.names.events_index,  # type: ignore[attr-defined]
                **body,
            ).body
        except Exception as exc:
            raise self._error("event search", exc) from None  # type: ignore[attr-defined]
        hits = res["hits"]["hits"]
        if exact:
            matched = [h for h in hits if q in h["_source"]["title"]]
            total = len(matched)
            hits = matched[offset : offset + query.size]
        else:
            total = int(res["hits"]["total"]["value"])
        events = [Event.model_validate(h["_source"]["event"]) for h in hits]
        nxt = encode_cursor([offset + len(events)]) if offset + len(events) < total else None
        return EventResult(total=total, events=events, next_cursor=nxt)

    def iter_events(self, batch_size: int = 500):
        """Every event, in id order (migration and exports)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"sort": [{"id": "asc"}], "size": batch_size}
            if after is not None:
                body["search_after"] = after
            try:
                res = self.es.search(  # type: ignore[attr-defined]
                    index=self.names.events_index,  # type: ignore[attr-defined]
                    **body,
                ).body
            except Exception as exc:
                raise self._error("event scan", exc) from None  # type: ignore[attr-defined]
            hits = res["hits"]["hits"]
            if not hits:
                return
            for h in hits:
                yield Event.model_validate(h["_source"]["event"])
            after = list(hits[-1]["sort"])
