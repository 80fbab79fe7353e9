"""Embedded store: SQLite + FTS5 over pre-segmented Chinese text.

Why FTS5 with unicode61 over our own tokens: trigram cannot index 2-character words (most
Chinese words), and giving FTS5 space-separated jieba tokens makes its tokens exactly the
ones the Elasticsearch backend indexes. Filters and sorts use ordinary indexed columns; the
full record is kept as JSON so the schema can grow without migrations.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from core.db import Tx, connect
from core.schema import SHANGHAI, Post
from nlp.segment import index_tokens
from store.base import (
    KEYWORD_FIELDS,
    TOTAL_CAP,
    Bucket,
    Filters,
    Hit,
    KeywordCount,
    QueryError,
    SearchQuery,
    SearchResult,
    StoreError,
    TimeBucket,
    check_breakdown_field,
    check_timeline_args,
    decode_cursor,
    encode_cursor,
)
from store.checkpoint import Checkpointer
from store.highlight import highlight
from store.querytext import ParsedQuery, parse_query
from store.sqlite_events import SqliteEventsMixin
from store.sqlite_schema import ensure_schema

# Version 2 keeps the record out of the time-ordered table: posts arrive in any publication
# order, so a row of ``posts`` lands on a random page; the record (about 1 KB of JSON) goes to
# ``post_docs`` in arrival order instead, where inserts append. The full-text index is
# contentless: ``post_docs.body`` keeps the tokens it was given, which is what deleting an
# entry needs, so the text is not stored a third time.
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  source_type TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  fetched_at INTEGER NOT NULL,
  engagement INTEGER NOT NULL DEFAULT 0,
  sentiment TEXT, category TEXT, risk TEXT,
  grid_id TEXT, community TEXT, street TEXT, district TEXT, geo_level TEXT,
  event_id TEXT, duplicate_of TEXT, author_hash TEXT,
  keywords TEXT NOT NULL DEFAULT '[]',
  doc_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_street_time ON posts(street, published_at);
CREATE INDEX IF NOT EXISTS posts_community_time ON posts(community, published_at);
CREATE INDEX IF NOT EXISTS posts_event ON posts(event_id);
CREATE INDEX IF NOT EXISTS posts_dup ON posts(duplicate_of);
CREATE TABLE IF NOT EXISTS post_docs (
  seq INTEGER PRIMARY KEY,
  doc TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS post_grids (
  grid_id TEXT NOT NULL,
  post_rowid INTEGER NOT NULL,
  PRIMARY KEY (grid_id, post_rowid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_hour (
  hour INTEGER NOT NULL,
  grid_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  negative INTEGER NOT NULL,
  neutral INTEGER NOT NULL,
  positive INTEGER NOT NULL,
  PRIMARY KEY (hour, grid_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_gen (
  hour INTEGER PRIMARY KEY,
  gen INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(
  body, content='', tokenize='unicode61 remove_diacritics 0'
);
"""

_COLUMN_FOR = {f: f for f in KEYWORD_FIELDS}


# One rollup row per hour and grid ('' = no grid) with the count of each sentiment in columns:
# a grid × hour read is one row per cell, and n minus the three labels is "not scored".
SENTIMENTS = ("negative", "neutral", "positive")


def _rollup_add(
    rollup: dict[tuple[int, str], list[int]],
    published_at: int,
    grid_id: str | None,
    sentiment: str | None,
    sign: int,
) -> None:
    cell = rollup.setdefault((published_at // 3600 * 3600, grid_id or ""), [0, 0, 0, 0])
    cell[0] += sign
    if sentiment in SENTIMENTS:
        cell[1 + SENTIMENTS.index(sentiment)] += sign


def _sentiment_sum(labels: list[str] | None) -> str:
    """SQL for a rollup row's count under a sentiment filter."""
    if not labels:
        return "n"
    cols = [s for s in SENTIMENTS if s in labels]
    return "(" + " + ".join(cols) + ")" if cols else "0"


# Filters the hourly rollup can answer exactly (the rest of a query goes to the posts table).
_ROLLUP_FIELDS = {"sentiment"}


# a post with its record (the record lives in post_docs since schema 2)
_POSTS_WITH_DOC = "posts p JOIN post_docs d ON d.seq = p.doc_seq"

ROWID_SLOTS = 65_536  # posts per second of publication time (see SqliteStore._assign_rowids)


def _ts(dt: datetime) -> int:
    return int(dt.timestamp())


def _fts_token(tok: str) -> str:
    return '"' + tok.replace('"', '""') + '"'


def fts_expression(parsed: ParsedQuery) -> str:
    def term_expr(term) -> str:
        alts = ["(" + " AND ".join(_fts_token(t) for t in alt) + ")" for alt in term.alternatives]
        return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"

    groups = ["(" + " OR ".join(term_expr(t) for t in g) + ")" for g in parsed.groups]
    expr = " AND ".join(groups)
    for term in parsed.excluded:
        expr = f"({expr}) NOT {term_expr(term)}"
    return expr


def tz_offset_seconds() -> int:
    off = datetime.now(SHANGHAI).utcoffset()
    return int(off.total_seconds()) if off else 0


class SqliteStore(SqliteEventsMixin):
    backend = "sqlite"

    def __init__(self, path: str | Path, max_query_chars: int = 500) -> None:
        self.path = Path(path)
        self.max_query_chars = max_query_chars
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._checkpointer = Checkpointer(lambda: connect(self.path, durable=False))
        with self._write_lock:
            ensure_schema(self._conn(), SCHEMA, SCHEMA_VERSION)
        self._init_events()
        self._ensure_rollup()
        # grid counts of whole hours, keyed by hour with the generation they were read at
        self._hour_cache: dict[int, tuple[int, int, dict[str, int]]] = {}
        self._hour_cache_lock = threading.Lock()

    def _ensure_rollup(self) -> None:
        """Rebuild the hourly rollup when it is missing (a database made before it existed)."""
        conn = self._conn()
        if not conn.execute("SELECT 1 FROM rollup_gen LIMIT 1").fetchone():
            with self._write_lock, Tx(conn):
                conn.execute(
                    "INSERT INTO rollup_gen(hour, gen) SELECT DISTINCT hour, 1 FROM rollup_hour"
                )
        if (
            conn.execute("SELECT 1 FROM rollup_hour LIMIT 1").fetchone()
            or not conn.execute("SELECT 1 FROM posts LIMIT 1").fetchone()
        ):
            return
        with self._write_lock, Tx(conn):
            conn.execute(
                "INSERT INTO rollup_hour(hour, grid_id, n, negative, neutral, positive) "
                "SELECT published_at / 3600 * 3600, COALESCE(grid_id, ''), COUNT(*), "
                "SUM(sentiment IS 'negative'), SUM(sentiment IS 'neutral'), "
                "SUM(sentiment IS 'positive') FROM posts GROUP BY 1, 2"
            )
            conn.execute(
                "INSERT OR REPLACE INTO rollup_gen(hour, gen) SELECT DISTINCT hour, 1 FROM rollup_hour"
            )

    # connections are per thread: FastAPI runs sync endpoints in a thread pool
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, durable=False)
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=268435456")
            # checkpoints run on the store's own thread (store.checkpoint), not in commits; a
            # WAL reset truncates the file back to 64 MB so its size shows when it falls behind
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute(f"PRAGMA journal_size_limit={64 << 20}")
            self._local.conn = conn
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn()

    # ---- writes ---------------------------------------------------------------------------
    def upsert(self, posts: list[Post]) -> None:
        if not posts:
            return
        latest = {p.id: p for p in posts}  # a later copy of an id in the batch wins
        rows = []
        for p in latest.values():
            geo = p.geo
            grids = ([geo.grid_id] if geo and geo.grid_id else []) + (
                list(geo.special_grid_ids) if geo else []
            )
            rows.append(
                (
                    p.id,
                    p.source,
                    p.source_type.value,
                    _ts(p.published_at),
                    _ts(p.fetched_at),
                    p.engagement.total,
                    p.sentiment.label if p.sentiment else None,
                    p.category.label if p.category else None,
                    p.risk.level if p.risk else None,
                    geo.grid_id if geo else None,
                    geo.community if geo else None,
                    geo.street if geo else None,
                    geo.district if geo else None,
                    geo.level if geo else None,
                    p.event_id,
                    p.duplicate_of,
                    p.author.hash,
                    json.dumps(p.keywords, ensure_ascii=False),
                    p.model_dump_json(),
                    " ".join(index_tokens(p.full_text)),
                    list(dict.fromkeys(grids)),
                )
            )
        conn = self._conn()
        with self._write_lock, Tx(conn):
            self._write(conn, rows)
        self._committed(conn)

    def _committed(self, conn: sqlite3.Connection) -> None:
        try:
            wal = Path(f"{self.path}-wal").stat().st_size
        except OSError:
            wal = 0
        self._checkpointer.wrote(conn, wal)

    def _write(self, conn: sqlite3.Connection, rows: list[tuple]) -> None:
        # rows that already exist: their old index entries and rollup counts go first
        existing = self._existing(conn, [r[0] for r in rows])
        rollup: dict[tuple[int, str], list[int]] = {}
        fts_deletes, grid_deletes, moved = [], [], []
        for row in rows:
            old = existing.get(row[0])
            if old is None:
                continue
            ts, grid, sentiment, rowid, _, body, old_grids = old
            _rollup_add(rollup, ts, grid, sentiment, -1)
            if body is not None:  # a record lost by an old crash has no index entry to remove
                fts_deletes.append((rowid, body))
            grid_deletes.extend((g, rowid) for g in old_grids)
            if ts != row[3]:  # moved in time: it needs a rowid in its new second
                moved.append((rowid,))
        conn.executemany(
            "INSERT INTO posts_fts(posts_fts, rowid, body) VALUES ('delete', ?, ?)", fts_deletes
        )
        conn.executemany("DELETE FROM post_grids WHERE grid_id=? AND post_rowid=?", grid_deletes)
        conn.executemany("DELETE FROM posts WHERE rowid=?", moved)
        new_rowids = self._assign_rowids(
            conn, [(r[0], r[3]) for r in rows if existing.get(r[0], (None,))[0] != r[3]]
        )
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM post_docs").fetchone()[0]
        post_rows, doc_rows, doc_updates, fts_rows, grid_rows = [], [], [], [], []
        for row in rows:
            old = existing.get(row[0])
            if old is None:
                seq += 1
                doc_seq = seq
                doc_rows.append((doc_seq, row[18], row[19]))
            else:
                doc_seq = old[4]
                doc_updates.append((doc_seq, row[18], row[19]))
            rowid = old[3] if old is not None and old[0] == row[3] else new_rowids[row[0]]
            post_rows.append((rowid, *row[:18], doc_seq))
            fts_rows.append((rowid, row[19]))
            grid_rows.extend((gid, rowid) for gid in row[20])
            _rollup_add(rollup, row[3], row[9], row[6], 1)
        # in key order: neighbouring inserts then share B-tree pages (about twice as fast for
        # the full-text index, whose document sizes are keyed by rowid)
        post_rows.sort(key=lambda r: r[0])
        fts_rows.sort()
        grid_rows.sort()
        conn.executemany("INSERT INTO post_docs(seq, doc, body) VALUES (?,?,?)", doc_rows)
        conn.executemany(
            "INSERT INTO post_docs(seq, doc, body) VALUES (?,?,?) "
            "ON CONFLICT(seq) DO UPDATE SET doc=excluded.doc, body=excluded.body",
            doc_updates,
        )
        conn.executemany(
            """INSERT INTO posts (rowid, id, source, source_type, published_at, fetched_at,
                 engagement, sentiment, category, risk, grid_id, community, street, district,
                 geo_level, event_id, duplicate_of, author_hash, keywords, doc_seq)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(id) DO UPDATE SET source=excluded.source, source_type=excluded.source_type,
                 published_at=excluded.published_at, fetched_at=excluded.fetched_at,
                 engagement=excluded.engagement, sentiment=excluded.sentiment,
                 category=excluded.category, risk=excluded.risk, grid_id=excluded.grid_id,
                 community=excluded.community, street=excluded.street, district=excluded.district,
                 geo_level=excluded.geo_level, event_id=excluded.event_id,
                 duplicate_of=excluded.duplicate_of, author_hash=excluded.author_hash,
                 keywords=excluded.keywords""",
            post_rows,
        )
        conn.executemany("INSERT INTO posts_fts(rowid, body) VALUES (?,?)", fts_rows)
        conn.executemany("INSERT INTO post_grids(grid_id, post_rowid) VALUES (?,?)", grid_rows)
        changed = sorted((*k, *v) for k, v in rollup.items() if any(v))
        conn.executemany(
            "INSERT INTO rollup_hour(hour, grid_id, n, negative, neutral, positive) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(hour, grid_id) DO UPDATE SET n = n + excluded.n, "
            "negative = negative + excluded.negative, neutral = neutral + excluded.neutral, "
            "positive = positive + excluded.positive",
            changed,
        )
        # a changed hour gets a new generation: cached reads of it (any process) are stale
        conn.executemany(
            "INSERT INTO rollup_gen(hour, gen) VALUES (?, 1) "
            "ON CONFLICT(hour) DO UPDATE SET gen = gen + 1",
            [(h,) for h in {c[0] for c in changed}],
        )

    @staticmethod
    def _existing(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple]:
        """id -> (published_at, grid_id, sentiment, rowid, doc_seq, indexed body, grid ids)."""
        out: dict[str, tuple] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for r in conn.execute(
                "SELECT p.id, p.published_at, p.grid_id, p.sentiment, p.rowid, p.doc_seq, d.body "
                "FROM posts p LEFT JOIN post_docs d ON d.seq = p.doc_seq "
                f"WHERE p.id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                out[r[0]] = (*tuple(r)[1:], [])
        if out:
            by_rowid = {v[3]: v[6] for v in out.values()}
            keys = list(by_rowid)
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                # the grid index is keyed by grid first: find a post's rows through its record
                for rowid, gid in conn.execute(
                    f"SELECT p.rowid, g.value FROM {_POSTS_WITH_DOC}, "
                    "json_each(d.doc, '$.geo.special_grid_ids') g "
                    f"WHERE p.rowid IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    by_rowid[rowid].append(gid)
            for v in out.values():
                if v[1]:
                    v[6].append(v[1])
        return out

    @staticmethod
    def _assign_rowids(conn: sqlite3.Connection, wanted: list[tuple[str, int]]) -> dict[str, int]:
        """Rowids are time-ordered (second × 65,536 + a slot within the second): the full-text
        index then returns matches newest first and stops at the page size, and a time window is
        a rowid range, instead of sorting every match. The slot comes from a hash of the id, so a
        whole batch is placed with one lookup; a taken slot moves on to the next free one."""
        candidates = {
            pid: ts * ROWID_SLOTS + (zlib.crc32(pid.encode()) & 0xFFFF) for pid, ts in wanted
        }
        taken: dict[int, bool] = {}
        cand = list(set(candidates.values()))
        for i in range(0, len(cand), 500):
            chunk = cand[i : i + 500]
            taken.update(dict.fromkeys(chunk, False))
            for (r,) in conn.execute(
                f"SELECT rowid FROM posts WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
            ):
                taken[r] = True
        out: dict[str, int] = {}
        for pid, ts in wanted:
            base, rowid = ts * ROWID_SLOTS, candidates[pid]
            for _ in range(ROWID_SLOTS):
                if rowid not in taken:
                    taken[rowid] = (
                        conn.execute("SELECT 1 FROM posts WHERE rowid=?", (rowid,)).fetchone()
                        is not None
                    )
                if not taken[rowid]:
                    break
                rowid = base + (rowid - base + 1) % ROWID_SLOTS
            else:
                raise StoreError(f"more than {ROWID_SLOTS} posts published in one second ({ts})")
            taken[rowid] = True
            out[pid] = rowid
        return out

    # ---- reads ------------------------------------------------------------------------------
    def get(self, post_id: str) -> Post | None:
        found = self.get_many([post_id])
        return found[0] if found else None

    def get_many(self, ids: list[str]) -> list[Post]:
        out: list[Post] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = (
                f"SELECT p.id, d.doc FROM {_POSTS_WITH_DOC} "
                f"WHERE p.id IN ({','.join('?' * len(chunk))})"
            )
            found = {r[0]: r[1] for r in self._conn().execute(q, chunk)}
            out.extend(Post.model_validate_json(found[i]) for i in chunk if i in found)
        return out

    def _docs(self, seqs: list[int]) -> dict[int, str]:
        if not seqs:
            return {}
        q = f"SELECT seq, doc FROM post_docs WHERE seq IN ({','.join('?' * len(seqs))})"
        return dict(self._conn().execute(q, seqs).fetchall())

    def earliest(self) -> datetime | None:
        """Publication time of the oldest post (rowids are time-ordered: one index seek)."""
        row = (
            self._conn().execute("SELECT published_at FROM posts ORDER BY rowid LIMIT 1").fetchone()
        )
        return datetime.fromtimestamp(row[0], UTC) if row else None

    def scan_after(self, rowid: int, limit: int) -> list[tuple[int, Post]]:
        """Posts in rowid (publication time) order after ``rowid``: resumable full copies."""
        return self._page_after("1", [], rowid, limit)

    def _page_after(
        self, where: str, params: list[Any], rowid: int, limit: int
    ) -> list[tuple[int, Post]]:
        rows = self._conn().execute(
            f"SELECT p.rowid, d.doc FROM {_POSTS_WITH_DOC} "
            f"WHERE {where} AND p.rowid > ? ORDER BY p.rowid LIMIT ?",
            [*params, rowid, limit],
        )
        return [(r[0], Post.model_validate_json(r[1])) for r in rows]

    def duplicate_counts(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        q = f"SELECT duplicate_of, COUNT(*) FROM posts WHERE duplicate_of IN ({','.join('?' * len(ids))}) GROUP BY duplicate_of"
        return {r[0]: r[1] for r in self._conn().execute(q, ids)}

    def _where(self, filters: Filters, parsed: ParsedQuery | None) -> tuple[str, list[Any], bool]:
        clauses: list[str] = []
        params: list[Any] = []
        if filters.since is not None:
            clauses.append("p.published_at >= ?")
            params.append(_ts(filters.since))
        if filters.until is not None:
            clauses.append("p.published_at < ?")
            params.append(_ts(filters.until))
        for field, values in filters.keyword_filters().items():
            if field == "grid_id":
                clauses.append(
                    f"p.rowid IN (SELECT post_rowid FROM post_grids WHERE grid_id IN ({','.join('?' * len(values))}))"
                )
            else:
                clauses.append(f"p.{_COLUMN_FOR[field]} IN ({','.join('?' * len(values))})")
            params.extend(values)
        if filters.ids:
            clauses.append(f"p.id IN ({','.join('?' * len(filters.ids))})")
            params.extend(filters.ids)
        if filters.exclude_duplicates:
            clauses.append("p.duplicate_of IS NULL")
        use_fts = parsed is not None and not parsed.empty
        if use_fts:
            clauses.append("posts_fts MATCH ?")
            params.append(fts_expression(parsed))
        # the same window as a rowid range on the table that drives the query (time-ordered rowids)
        driver = "posts_fts.rowid" if use_fts else "p.rowid"
        if filters.since is not None:
            clauses.append(f"{driver} >= ?")
            params.append(_ts(filters.since) * ROWID_SLOTS)
        if filters.until is not None:
            clauses.append(f"{driver} < ?")
            params.append(_ts(filters.until) * ROWID_SLOTS)
        return (" AND ".join(clauses) or "1"), params, use_fts

    def _parse(self, q: str | None) -> ParsedQuery | None:
        if q is None or not q.strip():
            return None
        parsed = parse_query(q, self.max_query_chars)
        return parsed

    def _from(self, use_fts: bool) -> str:
        return "posts_fts JOIN posts p ON p.rowid = posts_fts.rowid" if use_fts else "posts p"

    def _no_match(self, parsed: ParsedQuery | None, q: str | None) -> bool:
        # text was given but nothing searchable was left in it (only emoji/punctuation)
        return bool(q and q.strip()) and (parsed is None or parsed.empty)

    def search(self, query: SearchQuery) -> SearchResult:
        parsed = self._parse(query.q)
        if self._no_match(parsed, query.q):
            return SearchResult(total=0, hits=[])
        where, params, use_fts = self._where(query.filters, parsed)
        conn = self._conn()
        total = conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {self._from(use_fts)} WHERE {where} LIMIT {TOTAL_CAP + 1})",
            params,
        ).fetchone()[0]
        relation = "gte" if total > TOTAL_CAP else "eq"
        total = min(total, TOTAL_CAP)

        sort = query.sort if (query.sort != "relevance" or use_fts) else "time"
        score_sql = "bm25(posts_fts)" if use_fts else "NULL"
        extra, extra_params = "", []
        if sort == "time":
            # rowids are time-ordered, so (published_at, rowid) order is rowid order; ordering by the
            # driving table's rowid lets FTS5 walk its matches newest first and stop at the page
            driver = "posts_fts.rowid" if use_fts else "p.rowid"
            order = f"{driver} DESC"
            if query.cursor:
                _, rid = decode_cursor(query.cursor, 2)
                if not isinstance(rid, int):
                    raise QueryError("invalid cursor")
                extra = f" AND {driver} < ?"
                extra_params = [rid]
        elif sort == "engagement":
            order = "p.engagement DESC, p.published_at DESC, p.rowid DESC"
            if query.cursor:
                eng, ts, rid = decode_cursor(query.cursor, 3)
                extra = (
                    " AND (p.engagement < ? OR (p.engagement = ? AND (p.published_at < ? OR"
                    " (p.published_at = ? AND p.rowid < ?))))"
                )
                extra_params = [eng, eng, ts, ts, rid]
        else:
            order = "score ASC, p.rowid DESC"  # bm25(): lower is better
            if query.cursor:
                (offset,) = decode_cursor(query.cursor, 1)
                if not isinstance(offset, int) or offset < 0:
                    raise QueryError("invalid cursor")
                extra_params = []
        offset_sql = ""
        if sort == "relevance" and query.cursor:
            offset_sql = f" OFFSET {int(offset)}"
        try:
            rows = conn.execute(
                f"SELECT p.rowid, p.id, p.doc_seq, p.published_at, p.engagement, {score_sql} AS score "
                f"FROM {self._from(use_fts)} WHERE {where}{extra} ORDER BY {order} "
                f"LIMIT {query.size + 1}{offset_sql}",
                params + extra_params,
            ).fetchall()
        except (TypeError, ValueError):
            raise QueryError("invalid cursor") from None
        more = len(rows) > query.size
        rows = rows[: query.size]
        tokens = parsed.all_tokens() if parsed else []
        dup = self.duplicate_counts([r["id"] for r in rows])
        docs = self._docs([r["doc_seq"] for r in rows])
        hits = []
        for r in rows:
            post = Post.model_validate_json(docs[r["doc_seq"]])
            hl: dict[str, str] = {}
            if query.highlight and tokens:
                for name, value in (("title", post.title), ("text", post.text)):
                    snippet = highlight(value or "", tokens)
                    if snippet:
                        hl[name] = snippet
            score = -r["score"] if r["score"] is not None else None
            hits.append(
                Hit(post=post, score=score, highlights=hl, duplicate_count=dup.get(post.id, 0))
            )
        next_cursor = None
        if more and rows:
            last = rows[-1]
            if sort == "time":
                next_cursor = encode_cursor([last["published_at"], last["rowid"]])
            elif sort == "engagement":
                next_cursor = encode_cursor(
                    [last["engagement"], last["published_at"], last["rowid"]]
                )
            else:
                prev = int(decode_cursor(query.cursor, 1)[0]) if query.cursor else 0
                next_cursor = encode_cursor([prev + query.size])
        return SearchResult(
            total=total, total_relation=relation, hits=hits, next_cursor=next_cursor
        )

    def count(self, filters: Filters, q: str | None = None) -> int:
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return 0
        where, params, use_fts = self._where(filters, parsed)
        return (
            self._conn()
            .execute(f"SELECT COUNT(*) FROM {self._from(use_fts)} WHERE {where}", params)
            .fetchone()[0]
        )

    def timeline(
        self,
        filters: Filters,
        interval: Literal["hour", "day"] = "hour",
        split: str | None = None,
        q: str | None = None,
    ) -> list[TimeBucket]:
        check_timeline_args(interval, split)
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return []
        size = 3600 if interval == "hour" else 86400
        off = tz_offset_seconds()
        if parsed is None and split in (None, "grid_id", "sentiment") and self._rollup_ok(filters):
            return self._timeline_rollup(filters, size, off, split)
        where, params, use_fts = self._where(filters, parsed)
        bucket = f"((p.published_at + {off}) / {size}) * {size} - {off}"
        split_sql = f", COALESCE(p.{split}, '') AS k" if split else ", '' AS k"
        rows = (
            self._conn()
            .execute(
                f"SELECT {bucket} AS b{split_sql}, COUNT(*) AS n FROM {self._from(use_fts)} WHERE {where} "
                f"GROUP BY b, k ORDER BY b",
                params,
            )
            .fetchall()
        )
        out: dict[int, TimeBucket] = {}
        for r in rows:
            b = out.get(r["b"])
            if b is None:
                b = out[r["b"]] = TimeBucket(
                    t=datetime.fromtimestamp(r["b"], UTC).astimezone(SHANGHAI), count=0
                )
            b.count += r["n"]
            if split:
                b.by[r["k"] or "unknown"] = b.by.get(r["k"] or "unknown", 0) + r["n"]
        return list(out.values())

    # ---- hourly rollup: grid × hour counts without touching the posts table ---------------------
    @staticmethod
    def _rollup_ok(filters: Filters) -> bool:
        return (
            not filters.ids
            and not filters.exclude_duplicates
            and set(filters.keyword_filters()) <= _ROLLUP_FIELDS
        )

    def _rollup_parts(self, filters: Filters):
        """Split [since, until) into whole hours (rollup) and the partial hours at the edges (posts)."""
        since = _ts(filters.since) if filters.since else None
        until = _ts(filters.until) if filters.until else None
        h0 = -(-since // 3600) * 3600 if since is not None else None
        h1 = until // 3600 * 3600 if until is not None else None
        if h0 is not None and h1 is not None and h1 < h0:
            return [], filters, None  # inside a single hour: all of it is an edge
        clauses, params = [], []
        if h0 is not None:
            clauses.append("hour >= ?")
            params.append(h0)
        if h1 is not None:
            clauses.append("hour < ?")
            params.append(h1)
        head = tail = None
        if h0 is not None and h0 != since:
            head = filters.model_copy(update={"until": datetime.fromtimestamp(h0, UTC)})
        if h1 is not None and h1 != until:
            tail = filters.model_copy(update={"since": datetime.fromtimestamp(h1, UTC)})
        return [(" AND ".join(clauses) or "1", params)], head, tail

    def _hours_by_grid(self, h0: int, h1: int) -> list[tuple[int, int, dict[str, int]]]:
        """(hour, total, {grid: n}) for the whole hours in [h0, h1), from a cache of closed hours
        checked against ``rollup_gen`` (one small read), so repeated dashboard and alert queries
        do not rebuild ~200,000 grid-hour cells each time."""
        conn = self._conn()
        gens = dict(
            conn.execute("SELECT hour, gen FROM rollup_gen WHERE hour >= ? AND hour < ?", (h0, h1))
        )
        with self._hour_cache_lock:
            cached = {h: self._hour_cache.get(h) for h in gens}
        missing = [h for h, c in cached.items() if c is None or c[0] != gens[h]]
        fresh: dict[int, tuple[int, dict[str, int]]] = {h: (0, {}) for h in missing}
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            # one JSON object per hour, parsed in C: building ~200,000 cells row by row in
            # Python was most of a first read's time
            for h, total, cells in conn.execute(
                "SELECT hour, SUM(n), json_group_object(grid_id, n) FROM rollup_hour "
                f"WHERE hour IN ({','.join('?' * len(chunk))}) AND n > 0 GROUP BY hour",
                chunk,
            ):
                by = json.loads(cells)
                if "" in by:
                    by["unknown"] = by.pop("")
                fresh[h] = (total, by)
        with self._hour_cache_lock:
            for h, (total, by) in fresh.items():
                cached[h] = self._hour_cache[h] = (gens[h], total, by)
            if len(self._hour_cache) > 24 * 400:  # bound memory: forget the oldest hours
                for h in sorted(self._hour_cache)[: len(self._hour_cache) - 24 * 366]:
                    del self._hour_cache[h]
        return [(h, cached[h][1], cached[h][2]) for h in sorted(cached)]

    def _timeline_rollup(self, filters: Filters, size: int, off: int, split: str | None):
        parts, head, tail = self._rollup_parts(filters)
        counts: dict[int, Counter[str]] = {}
        conn = self._conn()
        cached_out: list[TimeBucket] = []
        if (
            size == 3600
            and split == "grid_id"
            and not filters.sentiment
            and filters.since
            and parts
        ):
            h0 = -(-_ts(filters.since) // 3600) * 3600
            h1 = _ts(filters.until) // 3600 * 3600 if filters.until else 2**62
            for h, total, by in self._hours_by_grid(h0, h1):
                if total > 0:
                    t = datetime.fromtimestamp(h, UTC).astimezone(SHANGHAI)
                    cached_out.append(TimeBucket.model_construct(t=t, count=total, by=dict(by)))
            parts = []
        n_sql = _sentiment_sum(filters.sentiment)
        if split == "sentiment":  # the label columns become keys; the rest is "not scored"
            labels = [x for x in SENTIMENTS if not filters.sentiment or x in filters.sentiment]
            cols = ", ".join(f"SUM({x})" for x in labels)
            select = f"hour, SUM({n_sql}), {cols}" if labels else f"hour, SUM({n_sql})"
            group = "GROUP BY hour"
        elif split == "grid_id":  # one row per cell: no grouping needed
            select, group = f"hour, grid_id, {n_sql}", ""
        else:
            select, group = f"hour, SUM({n_sql})", "GROUP BY hour"
        for where, params in parts:
            current_hour, bucket = None, None
            for row in conn.execute(
                f"SELECT {select} FROM rollup_hour WHERE {where} {group}", params
            ):
                h = row[0]
                if h != current_hour:
                    current_hour = h
                    b = (h + off) // size * size - off
                    bucket = counts.get(b)
                    if bucket is None:
                        bucket = counts[b] = Counter()
                if split == "sentiment":
                    scored = 0
                    for label, n in zip(labels, row[2:], strict=True):
                        bucket[label] += n
                        scored += n
                    if not filters.sentiment:
                        bucket[""] += row[1] - scored
                elif split == "grid_id":
                    bucket[row[1]] += row[2]
                else:
                    bucket[""] += row[1]
        for edge in (head, tail):
            if edge is None:
                continue
            where, params, _ = self._where(edge, None)
            col = f"COALESCE(p.{split}, '')" if split else "''"
            for b, k, n in conn.execute(
                f"SELECT ((p.published_at + {off}) / {size}) * {size} - {off} AS b, {col} AS k, "
                f"COUNT(*) FROM posts p WHERE {where} GROUP BY b, k",
                params,
            ):
                counts.setdefault(b, Counter())[k] += n
        out = []
        for b in sorted(counts):
            c = counts[b]
            total = sum(c.values())
            if total <= 0:
                continue
            by = {(k or "unknown"): v for k, v in c.items() if v > 0} if split else {}
            # trusted values built here: skip re-validating a thousand-key dict per bucket
            out.append(
                TimeBucket.model_construct(
                    t=datetime.fromtimestamp(b, UTC).astimezone(SHANGHAI), count=total, by=by
                )
            )
        if (
            cached_out
        ):  # whole hours from the cache; edges (partial hours) never share their buckets
            out = sorted(out + cached_out, key=lambda b: b.t)
        return out

    def _breakdown_rollup(self, filters: Filters, field: str, size: int) -> list[Bucket]:
        parts, head, tail = self._rollup_parts(filters)
        counts: Counter[str] = Counter()
        neg: Counter[str] = Counter()
        conn = self._conn()
        for where, params in parts:
            neg_sql = (
                "negative" if not filters.sentiment or "negative" in filters.sentiment else "0"
            )
            for k, n, ng in conn.execute(
                f"SELECT {field}, SUM({_sentiment_sum(filters.sentiment)}), SUM({neg_sql}) "
                f"FROM rollup_hour WHERE {where} AND {field} != '' GROUP BY {field}",
                params,
            ):
                counts[k] += n
                neg[k] += ng
        for edge in (head, tail):
            if edge is None:
                continue
            where, params, _ = self._where(edge, None)
            for k, n, ng in conn.execute(
                f"SELECT p.{field}, COUNT(*), SUM(p.sentiment = 'negative') FROM posts p "
                f"WHERE {where} AND p.{field} IS NOT NULL GROUP BY p.{field}",
                params,
            ):
                counts[k] += n
                neg[k] += ng or 0
        ranked = sorted(
            ((k, n) for k, n in counts.items() if n > 0), key=lambda kv: (-kv[1], kv[0])
        )
        return [Bucket(key=k, count=n, negative=neg[k]) for k, n in ranked[:size]]

    def breakdown(
        self, filters: Filters, field: str, size: int = 50, q: str | None = None
    ) -> list[Bucket]:
        check_breakdown_field(field)
        size = max(1, min(int(size), 5000))
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return []
        if parsed is None and field == "grid_id" and self._rollup_ok(filters):
            return self._breakdown_rollup(filters, field, size)
        where, params, use_fts = self._where(filters, parsed)
        rows = (
            self._conn()
            .execute(
                f"SELECT p.{field} AS k, COUNT(*) AS n, SUM(p.sentiment = 'negative') AS neg "
                f"FROM {self._from(use_fts)} WHERE {where} AND p.{field} IS NOT NULL "
                f"GROUP BY p.{field} ORDER BY n DESC, k ASC LIMIT {size}",
                params,
            )
            .fetchall()
        )
        return [Bucket(key=r["k"], count=r["n"], negative=r["neg"] or 0) for r in rows]

    def keywords(
        self, filters: Filters, size: int = 30, q: str | None = None, sample: int = 20000
    ) -> list[KeywordCount]:
        size = max(1, min(int(size), 500))
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return []
        where, params, use_fts = self._where(filters, parsed)
        counter: Counter[str] = Counter()
        for (kw,) in self._conn().execute(
            f"SELECT p.keywords FROM {self._from(use_fts)} WHERE {where} "
            f"ORDER BY p.rowid DESC LIMIT {int(sample)}",
            params,
        ):
            counter.update(set(json.loads(kw)))
        return [
            KeywordCount(word=w, count=n)
            for w, n in sorted(counter.items(), key=lambda x: (-x[1], x[0]))[:size]
        ]

    def iter_posts(self, filters: Filters, batch_size: int = 1000) -> Iterator[Post]:
        where, params, use_fts = self._where(filters, None)
        last = 0
        while rows := self._page_after(where, params, last, batch_size):
            for _, post in rows:
                yield post
            last = rows[-1][0]

    def info(self) -> dict[str, Any]:
        conn = self._conn()
        n = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        size = self.path.stat().st_size if self.path.exists() else 0
        return {"backend": self.backend, "posts": n, "path": str(self.path), "size_bytes": size}

    def close(self) -> None:
        self._checkpointer.stop()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
