"""Small read helpers other components call (the grid map colours grids by open alerts)."""

from __future__ import annotations

import sqlite3

from alerts.db import ensure_schema


def open_alert_counts_by_grid(conn: sqlite3.Connection) -> dict[str, int]:
    """Open (firing / acknowledged / dispatched) alerts per grid id."""
    try:
        rows = conn.execute(
            """SELECT grid_id, COUNT(*) FROM alerts
               WHERE grid_id IS NOT NULL AND status IN ('firing','acknowledged','dispatched')
               GROUP BY grid_id"""
        ).fetchall()
    except sqlite3.OperationalError:  # no alert has ever been stored in this database
        ensure_schema(conn)
        return {}
    return {r[0]: int(r[1]) for r in rows}


def open_alert_counts_by_street(conn: sqlite3.Connection) -> dict[str, int]:
    try:
        rows = conn.execute(
            """SELECT street, COUNT(*) FROM alerts
               WHERE street IS NOT NULL AND status IN ('firing','acknowledged','dispatched')
               GROUP BY street"""
        ).fetchall()
    except sqlite3.OperationalError:
        ensure_schema(conn)
        return {}
    return {r[0]: int(r[1]) for r in rows}
