"""The durable inbox every line writes to before anything else happens.

A record is acknowledged only when its INSERT has committed (``synchronous=FULL``), so a
``kill -9`` loses nothing acknowledged. The processor claims rows with a lease, stores them,
then deletes them; a crash between store and delete re-processes the batch, which is safe
because the store upserts by id (at-least-once into an idempotent sink).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.db import Tx, connect
from core.schema import Post, validation_message

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  post_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  origin TEXT NOT NULL,
  received_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  claimed_until REAL NOT NULL DEFAULT 0,
  claimed_by TEXT
);
CREATE INDEX IF NOT EXISTS inbox_claim ON inbox(claimed_until, seq);
CREATE TABLE IF NOT EXISTS deadletter (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stage TEXT NOT NULL,
  origin TEXT NOT NULL,
  record_id TEXT,
  reason TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at REAL NOT NULL
);
"""

MAX_PAYLOAD_BYTES = 2_000_000
OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _owner_dead(owner: str | None) -> bool:
    """True when a lease belongs to a process on this host that no longer runs."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another node's lease: wait for it to expire
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Rejection:
    index: int
    id: str | None
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [r.__dict__ for r in self.rejected],
            "ids": self.ids,
        }


@dataclass
class Claimed:
    seq: int
    post: Post
    attempts: int


def _hint(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"#{index} (id={raw['id'][:80]})"
    return f"#{index}"


class Inbox:
    def __init__(self, path: str | Path, max_attempts: int = 5) -> None:
        self.path = Path(path)
        self.max_attempts = max_attempts
        self._local = threading.local()
        self._all: list = []
        self._all_lock = threading.Lock()
        self.conn.executescript(SCHEMA)

    @property
    def conn(self):
        """One connection per thread: API requests, the processor and the crawler share an Inbox."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, durable=True)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    # ---- producers ----------------------------------------------------------------------------
    def put(self, records: Iterable[Any], origin: str = "api") -> IngestResult:
        """Validate and enqueue; invalid records go to the dead-letter table with the reason."""
        result = IngestResult()
        good: list[tuple[str, str]] = []
        bad: list[tuple[str | None, str, str]] = []
        for index, raw in enumerate(records):
            record_id = (
                raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            )
            try:
                post = raw if isinstance(raw, Post) else Post.model_validate(raw)
            except ValidationError as exc:
                reason = validation_message(exc, _hint(raw, index))
                result.rejected.append(Rejection(index, record_id, reason))
                bad.append((record_id, reason, _dump_raw(raw)))
                continue
            except (TypeError, ValueError) as exc:
                reason = f"record {_hint(raw, index)}: {exc}"
                result.rejected.append(Rejection(index, record_id, reason))
                bad.append((record_id, reason, _dump_raw(raw)))
                continue
            good.append((post.id, post.model_dump_json()))
            result.ids.append(post.id)
        now = time.time()
        with Tx(self.conn):
            self.conn.executemany(
                "INSERT INTO inbox(post_id, payload, origin, received_at) VALUES (?,?,?,?)",
                [(pid, payload, origin, now) for pid, payload in good],
            )
            self.conn.executemany(
                "INSERT INTO deadletter(stage, origin, record_id, reason, payload, received_at) VALUES (?,?,?,?,?,?)",
                [("validation", origin, rid, reason, payload, now) for rid, reason, payload in bad],
            )
        result.accepted = len(good)
        return result

    def reject(self, raw_line: str, reason: str, origin: str) -> None:
        """Record a line that could not even be parsed (bad JSON, wrong encoding)."""
        with Tx(self.conn):
            self.conn.execute(
                "INSERT INTO deadletter(stage, origin, record_id, reason, payload, received_at) VALUES (?,?,?,?,?,?)",
                ("parse", origin, None, reason, raw_line[:MAX_PAYLOAD_BYTES], time.time()),
            )

    # ---- the processor ----------------------------------------------------------------------
    def claim(self, limit: int, lease_seconds: float = 300.0) -> list[Claimed]:
        now = time.time()
        with Tx(self.conn):
            rows = self.conn.execute(
                "UPDATE inbox SET claimed_until=?, claimed_by=? WHERE seq IN (SELECT seq FROM inbox "
                "WHERE claimed_until < ? ORDER BY seq LIMIT ?) RETURNING seq, payload, attempts",
                (now + lease_seconds, OWNER, now, limit),
            ).fetchall()
        rows.sort(key=lambda r: r["seq"])
        return [
            Claimed(r["seq"], Post.model_validate_json(r["payload"]), r["attempts"]) for r in rows
        ]

    def release_dead_leases(self) -> int:
        """After a crash, hand back rows leased by processes of this host that died (kill -9),
        so a restarted single-node service resumes at once instead of waiting out the lease."""
        now = time.time()
        owners = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT claimed_by FROM inbox WHERE claimed_until >= ? AND claimed_by IS NOT NULL",
                (now,),
            )
        ]
        dead = [o for o in owners if _owner_dead(o)]
        if not dead:
            return 0
        with Tx(self.conn):
            cur = self.conn.execute(
                f"UPDATE inbox SET claimed_until=0, claimed_by=NULL WHERE claimed_by IN ({','.join('?' * len(dead))})",
                dead,
            )
        return cur.rowcount

    def ack(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with Tx(self.conn):
            self.conn.executemany("DELETE FROM inbox WHERE seq=?", [(s,) for s in seqs])

    def release(self, claimed: list[Claimed], delay: float = 0.0, error: str = "") -> None:
        """Hand rows back without counting an attempt (the store was down, the rows are fine)."""
        if not claimed:
            return
        until = time.time() + max(0.0, delay)
        with Tx(self.conn):
            self.conn.executemany(
                "UPDATE inbox SET claimed_until=?, claimed_by=NULL, last_error=? WHERE seq=?",
                [(until, error[:2000] or None, c.seq) for c in claimed],
            )

    def fail(self, claimed: list[Claimed], error: str) -> int:
        """Release rows for retry; rows past max_attempts move to the dead-letter table."""
        dead = 0
        now = time.time()
        with Tx(self.conn):
            for c in claimed:
                if c.attempts + 1 >= self.max_attempts:
                    self.conn.execute(
                        "INSERT INTO deadletter(stage, origin, record_id, reason, payload, received_at) "
                        "SELECT 'processing', origin, post_id, ?, payload, received_at FROM inbox WHERE seq=?",
                        (error[:2000], c.seq),
                    )
                    self.conn.execute("DELETE FROM inbox WHERE seq=?", (c.seq,))
                    dead += 1
                else:
                    backoff = min(300.0, 2.0 ** (c.attempts + 1))
                    self.conn.execute(
                        "UPDATE inbox SET attempts=attempts+1, last_error=?, claimed_until=? WHERE seq=?",
                        (error[:2000], now + backoff, c.seq),
                    )
        return dead

    # ---- inspection -------------------------------------------------------------------------
    def pending(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]

    def deadletters(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, stage, origin, record_id, reason, received_at, substr(payload, 1, 500) AS payload "
            "FROM deadletter ORDER BY id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [dict(r) for r in rows]

    def deadletter_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM deadletter").fetchone()[0]

    def retry_deadletter(self, ids: list[int]) -> IngestResult:
        """Re-submit dead letters (after a fix); they are validated again like new records."""
        rows = self.conn.execute(
            f"SELECT id, payload, origin FROM deadletter WHERE id IN ({','.join('?' * len(ids))})",
            ids,
        ).fetchall()
        records = []
        for r in rows:
            try:
                records.append(json.loads(r["payload"]))
            except ValueError:
                records.append(r["payload"])
        result = self.put(records, origin="retry")
        with Tx(self.conn):
            self.conn.executemany("DELETE FROM deadletter WHERE id=?", [(r["id"],) for r in rows])
        return result

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def _dump_raw(raw: Any) -> str:
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return text[:MAX_PAYLOAD_BYTES]
