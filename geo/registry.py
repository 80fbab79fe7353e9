"""Versioned grid layers in a small SQLite file (``geo.db`` under data_dir).

An import writes a new version and flips the ``active`` flag in the same transaction, so readers
see the old layer or the new one, never a mix. Running processes notice the new active version
by polling :meth:`GridRegistry.active_version` (a primary-key read) and rebuild their index.
The last ``keep`` versions stay for ``yuqing grids activate VERSION`` (roll back a bad import).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from core.db import Tx, connect
from geo.layer import Grid, ImportReport

_SCHEMA = """
CREATE TABLE IF NOT EXISTS geo_layers (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  source TEXT,
  imported_at TEXT NOT NULL,
  grids INTEGER NOT NULL,
  report TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS geo_grids (
  version INTEGER NOT NULL REFERENCES geo_layers(version) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  community TEXT,
  street TEXT,
  district TEXT,
  wkb BLOB NOT NULL,
  props TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (version, id)
);
CREATE INDEX IF NOT EXISTS geo_layers_active ON geo_layers(active);
"""


class RegistryError(Exception):
    pass


@dataclass
class LayerInfo:
    version: int
    name: str
    source: str | None
    imported_at: str
    grids: int
    active: bool
    report: dict[str, Any]


class GridRegistry:
    def __init__(self, path: str | Path, keep: int = 5) -> None:
        self.path = Path(path)
        self.keep = max(1, keep)
        self._conn = connect(self.path, durable=True)
        self._lock = threading.Lock()
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def active_version(self) -> int | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM geo_layers WHERE active=1 ORDER BY version DESC LIMIT 1"
            ).fetchone()
        return int(row[0]) if row else None

    def import_layer(
        self,
        grids: list[Grid],
        report: ImportReport,
        name: str,
        source: str | None = None,
        only_if_empty: bool = False,
    ) -> int | None:
        """Store ``grids`` as a new version and make it active atomically; returns the version.

        ``only_if_empty`` (the first-start sample load) does nothing when a layer exists, checked
        inside the write transaction so two processes starting together load it once.
        """
        rows = [
            (
                g.id,
                g.name,
                g.kind,
                g.community,
                g.street,
                g.district,
                shapely.to_wkb(g.geometry),
                json.dumps(g.props, ensure_ascii=False),
            )
            for g in grids
        ]
        with self._lock, Tx(self._conn) as conn:
            if only_if_empty and conn.execute("SELECT 1 FROM geo_layers LIMIT 1").fetchone():
                return None
            cur = conn.execute(
                "INSERT INTO geo_layers(name, source, imported_at, grids, report) VALUES (?,?,?,?,?)",
                (
                    name,
                    source,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    len(grids),
                    json.dumps(report.as_dict(), ensure_ascii=False),
                ),
            )
            version = int(cur.lastrowid)
            conn.executemany(
                f"INSERT INTO geo_grids(version, id, name, kind, community, street, district, wkb, props) "
                f"VALUES ({version},?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.execute("UPDATE geo_layers SET active = (version = ?)", (version,))
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT version FROM geo_layers ORDER BY version DESC LIMIT -1 OFFSET ?",
                    (self.keep,),
                )
            ]
            for v in old:
                conn.execute("DELETE FROM geo_grids WHERE version=?", (v,))
                conn.execute("DELETE FROM geo_layers WHERE version=?", (v,))
        return version

    def activate(self, version: int) -> None:
        with self._lock, Tx(self._conn) as conn:
            if not conn.execute("SELECT 1 FROM geo_layers WHERE version=?", (version,)).fetchone():
                raise RegistryError(f"no layer version {version} (see `yuqing grids list`)")
            conn.execute("UPDATE geo_layers SET active = (version = ?)", (version,))

    def layers(self) -> list[LayerInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT version, name, source, imported_at, grids, active, report "
                "FROM geo_layers ORDER BY version DESC"
            ).fetchall()
        return [
            LayerInfo(
                r["version"],
                r["name"],
                r["source"],
                r["imported_at"],
                r["grids"],
                bool(r["active"]),
                json.loads(r["report"]),
            )
            for r in rows
        ]

    def load(self, version: int | None = None) -> tuple[int, list[Grid]] | None:
        """The grids of ``version`` (default: the active one), or None when there is none."""
        with self._lock:
            if version is None:
                row = self._conn.execute(
                    "SELECT version FROM geo_layers WHERE active=1 ORDER BY version DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    return None
                version = int(row[0])
            rows = self._conn.execute(
                "SELECT id, name, kind, community, street, district, wkb, props "
                "FROM geo_grids WHERE version=? ORDER BY kind, id",
                (version,),
            ).fetchall()
        if not rows:
            return None
        geoms = shapely.from_wkb([r["wkb"] for r in rows])
        grids = [
            Grid(
                r["id"],
                r["name"],
                r["kind"],
                r["community"],
                r["street"],
                r["district"],
                g,
                json.loads(r["props"]),
            )
            for r, g in zip(rows, geoms, strict=True)
        ]
        return version, grids
