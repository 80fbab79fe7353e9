"""Alert state tables in ``services.app_db`` (SQLite WAL): survives restarts, shared by engines.

Every write that must not happen twice is guarded by a UNIQUE constraint, so a re-processed
batch or a second engine instance turns the duplicate into a no-op instead of a second send.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from core.db import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  rule_type TEXT NOT NULL,
  severity TEXT NOT NULL,
  key_field TEXT,
  key TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'firing',
  title TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  category TEXT, street TEXT, community TEXT, grid_id TEXT, event_id TEXT,
  observed REAL, baseline REAL, probability REAL,
  details TEXT NOT NULL DEFAULT '{}',
  first_at REAL NOT NULL,
  last_at REAL NOT NULL,
  occurrence INTEGER NOT NULL DEFAULT 1,
  last_notified_at REAL,
  notified_occurrence INTEGER NOT NULL DEFAULT 0,
  escalation_level INTEGER NOT NULL DEFAULT 0,
  escalated_at REAL,
  assignee TEXT, deadline REAL,
  acked_by TEXT, acked_at REAL,
  resolved_by TEXT, resolved_at REAL, resolution TEXT,
  revisit_at REAL, revisit_notified INTEGER NOT NULL DEFAULT 0,
  deadline_notified INTEGER NOT NULL DEFAULT 0,
  silenced_by INTEGER, inhibited_by INTEGER,
  auto_resolve INTEGER NOT NULL DEFAULT 0,
  relapse_of INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_key ON alerts(rule, key)
  WHERE status IN ('firing', 'acknowledged', 'dispatched');
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, last_at);
CREATE INDEX IF NOT EXISTS alerts_grid ON alerts(grid_id, status);
CREATE INDEX IF NOT EXISTS alerts_resolved ON alerts(key_field, key, resolved_at);
CREATE TABLE IF NOT EXISTS alert_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  at REAL NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  note TEXT,
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id, id);
CREATE TABLE IF NOT EXISTS alert_posts (
  rule TEXT NOT NULL,
  post_id TEXT NOT NULL,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  added_at REAL NOT NULL,
  PRIMARY KEY (rule, post_id)
);
CREATE INDEX IF NOT EXISTS alert_posts_alert ON alert_posts(alert_id, added_at);
CREATE TABLE IF NOT EXISTS alert_pending (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  occurrence INTEGER NOT NULL,
  reason TEXT NOT NULL,
  route TEXT NOT NULL,
  contact TEXT NOT NULL,
  channel TEXT NOT NULL,
  group_key TEXT NOT NULL,
  severity TEXT NOT NULL,
  created_at REAL NOT NULL,
  outbox_id INTEGER,
  state TEXT NOT NULL DEFAULT 'pending',
  UNIQUE (alert_id, occurrence, reason, contact, channel)
);
CREATE INDEX IF NOT EXISTS alert_pending_state ON alert_pending(state, route, created_at);
CREATE TABLE IF NOT EXISTS alert_groups (
  route TEXT NOT NULL, contact TEXT NOT NULL, channel TEXT NOT NULL, group_key TEXT NOT NULL,
  last_flush REAL NOT NULL,
  PRIMARY KEY (route, contact, channel, group_key)
);
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idem_key TEXT NOT NULL UNIQUE,
  channel TEXT NOT NULL,
  contact TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at REAL NOT NULL,
  created_at REAL NOT NULL,
  claimed_until REAL NOT NULL DEFAULT 0,
  claimed_by TEXT,
  last_error TEXT,
  sent_at REAL
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox(status, next_at);
CREATE TABLE IF NOT EXISTS alert_silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  matchers TEXT NOT NULL,
  starts_at REAL NOT NULL,
  ends_at REAL NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL,
  expired_by TEXT
);
CREATE TABLE IF NOT EXISTS alert_rules (
  name TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  updated_at REAL NOT NULL,
  updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_contacts (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL DEFAULT '',
  level TEXT NOT NULL,
  grid_id TEXT, street TEXT, community TEXT,
  email TEXT, phone TEXT, webhook TEXT, webhook_kind TEXT, webhook_secret_env TEXT,
  active INTEGER NOT NULL DEFAULT 1,
  origin TEXT NOT NULL DEFAULT 'cli',
  updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at REAL NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  before TEXT,
  after TEXT
);
CREATE TABLE IF NOT EXISTS alert_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_kv (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);
"""


# columns added after the first release: (table, column, definition)
_ADDED_COLUMNS = (("alerts", "deadline_notified", "INTEGER NOT NULL DEFAULT 0"),)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    for table, column, definition in _ADDED_COLUMNS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise


def dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)


def audit(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> None:
    conn.execute(
        "INSERT INTO alert_audit(at, actor, action, target, before, after) VALUES (?,?,?,?,?,?)",
        (
            time.time(),
            actor,
            action,
            target,
            None if before is None else dumps(before),
            None if after is None else dumps(after),
        ),
    )


def try_lease(conn: sqlite3.Connection, name: str, owner: str, ttl: float, now: float) -> bool:
    """Take or renew a named lease; True when ``owner`` holds it until ``now + ttl``."""
    cur = conn.execute(
        """INSERT INTO alert_leases(name, owner, until) VALUES (?,?,?)
           ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, until=excluded.until
           WHERE alert_leases.owner = excluded.owner OR alert_leases.until < ?""",
        (name, owner, now + ttl, now),
    )
    return cur.rowcount == 1


def release_lease(conn: sqlite3.Connection, name: str, owner: str) -> None:
    conn.execute("DELETE FROM alert_leases WHERE name=? AND owner=?", (name, owner))


_local = threading.local()


def thread_conn(path: str | Path) -> sqlite3.Connection:
    """One connection per thread and database file: a shared connection would interleave
    transactions of different threads (BEGIN in one, writes from another)."""
    conns: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    key = str(Path(path).resolve())
    conn = conns.get(key)
    if conn is None:
        conn = connect(path, durable=True)
        ensure_schema(conn)
        conns[key] = conn
    return conn
