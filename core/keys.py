"""API keys with roles. Only a SHA-256 of each key is stored: keys are 32 random bytes, so a
fast hash is enough (no dictionary to attack), and verification stays cheap per request."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

from core.db import Tx

ROLES = ("viewer", "analyst", "officer", "admin")
ROLE_RANK = {r: i for i, r in enumerate(ROLES)}

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at REAL NOT NULL,
  revoked_at REAL,
  last_used_at REAL
);
"""


@dataclass
class Principal:
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyError_(ValueError):
    pass


class KeyStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)

    def add(self, name: str, role: str) -> str:
        if role not in ROLES:
            raise KeyError_(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        name = name.strip()
        if not name or len(name) > 100:
            raise KeyError_("key name must be 1–100 characters")
        key = "yq_" + secrets.token_urlsafe(32)
        try:
            with Tx(self.conn):
                self.conn.execute(
                    "INSERT INTO api_keys(name, role, key_hash, prefix, created_at) VALUES (?,?,?,?,?)",
                    (name, role, _hash(key), key[:8], time.time()),
                )
        except sqlite3.IntegrityError:
            raise KeyError_(f"a key named {name!r} already exists") from None
        return key

    def list(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT id, name, role, prefix, created_at, revoked_at, last_used_at FROM api_keys ORDER BY id"
        ).fetchall()
        return [dict(r) for r in rows]

    def revoke(self, name: str) -> bool:
        with Tx(self.conn):
            cur = self.conn.execute(
                "UPDATE api_keys SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
                (time.time(), name),
            )
        return cur.rowcount > 0

    def verify(self, key: str | None) -> Principal | None:
        if not key or len(key) > 200:
            return None
        row = self.conn.execute(
            "SELECT id, name, role FROM api_keys WHERE key_hash=? AND revoked_at IS NULL",
            (_hash(key),),
        ).fetchone()
        if row is None:
            return None
        return Principal(row["name"], row["role"])

    def count_active(self) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL"
        ).fetchone()[0]
