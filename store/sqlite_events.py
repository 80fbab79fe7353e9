"""Event storage for the embedded SQLite store (mixed into :class:`store.sqlite.SqliteStore`).

One row per event: indexed columns for the filters and sorts, the full record as JSON. Multi-
valued fields (streets, grids, source types) are filtered through ``json_each`` on the record:
events are few compared with posts, so this stays fast without join tables.
"""

from __future__ import annotations

from typing import Any

from core.db import Tx
from store.base import QueryError, decode_cursor, encode_cursor
from store.events import Event, EventQuery, EventResult

EVENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  post_count INTEGER NOT NULL,
  heat REAL NOT NULL,
  risk TEXT NOT NULL,
  category TEXT,
  title TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_last ON events(last_seen);
CREATE INDEX IF NOT EXISTS events_heat ON events(heat);
"""

_SORT_SQL = {
    "heat": "heat DESC, last_seen DESC, id",
    "last_seen": "last_seen DESC, id",
    "first_seen": "first_seen DESC, id",
    "post_count": "post_count DESC, last_seen DESC, id",
}
_JSON_FIELDS = {"street": "streets", "grid_id": "grids", "source_type": "source_types"}


class SqliteEventsMixin:
    """Needs ``self._conn()`` and ``self._write_lock`` from the store."""

    def _init_events(self) -> None:
        self._conn().executescript(EVENT_SCHEMA)  # type: ignore[attr-defined]

    def upsert_events(self, events: list[Event]) -> None:
        if not events:
            return
        conn = self._conn()  # type: ignore[attr-defined]
        rows = [
            (
                e.id,
                int(e.first_seen.timestamp()),
                int(e.last_seen.timestamp()),
                e.post_count,
                e.heat,
                e.risk,
                e.category,
                e.title,
                e.model_dump_json(),
            )
            for e in events
        ]
        with self._write_lock, Tx(conn):  # type: ignore[attr-defined]
            conn.executemany(
                """INSERT INTO events (id, first_seen, last_seen, post_count, heat, risk, category,
                     title, doc) VALUES (?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(id) DO UPDATE SET first_seen=excluded.first_seen,
                     last_seen=excluded.last_seen, post_count=excluded.post_count,
                     heat=excluded.heat, risk=excluded.risk, category=excluded.category,
                     title=excluded.title, doc=excluded.doc""",
                rows,
            )
        self._committed(conn)  # type: ignore[attr-defined]

    def get_event(self, event_id: str) -> Event | None:
        row = self._conn().execute("SELECT doc FROM events WHERE id=?", (event_id,)).fetchone()  # type: ignore[attr-defined]
        return Event.model_validate_json(row[0]) if row else None

    def search_events(self, query: EventQuery) -> EventResult:
        clauses: list[str] = ["post_count >= ?"]
        params: list[Any] = [query.min_posts]
        if query.since is not None:
            clauses.append("last_seen >= ?")
            params.append(int(query.since.timestamp()))
        if query.until is not None:
            clauses.append("first_seen < ?")
            params.append(int(query.until.timestamp()))
        if query.risk:
            clauses.append(f"risk IN ({','.join('?' * len(query.risk))})")
            params += query.risk
        if query.category:
            ph = ",".join("?" * len(query.category))
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each(doc, '$.categories') WHERE key IN ({ph}))"
            )
            params += query.category
        for field, key in _JSON_FIELDS.items():
            values = getattr(query, field)
            if values:
                ph = ",".join("?" * len(values))
                clauses.append(
                    f"EXISTS (SELECT 1 FROM json_each(doc, '$.{key}') WHERE key IN ({ph}))"
                )
                params += values
        if query.q and query.q.strip():
            clauses.append("instr(title, ?) > 0")
            params.append(query.q.strip())
        where = " AND ".join(clauses)
        conn = self._conn()  # type: ignore[attr-defined]
        total = conn.execute(f"SELECT COUNT(*) FROM events WHERE {where}", params).fetchone()[0]
        offset = 0
        if query.cursor:
            (offset,) = decode_cursor(query.cursor, 1)
            if not isinstance(offset, int) or offset < 0:
                raise QueryError("invalid cursor")
        rows = conn.execute(
            f"SELECT doc FROM events WHERE {where} ORDER BY {_SORT_SQL[query.sort]} "
            f"LIMIT ? OFFSET ?",
            params + [query.size, offset],
        ).fetchall()
        events = [Event.model_validate_json(r[0]) for r in rows]
        nxt = encode_cursor([offset + len(events)]) if offset + len(events) < total else None
        return EventResult(total=total, events=events, next_cursor=nxt)
