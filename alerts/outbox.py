"""The notification outbox: atomic claim with a lease, retries with exponential back-off, dead state.

Delivery is at-least-once: a row is marked ``sent`` after the channel accepted it. If the process
dies between the remote acceptance and that commit (a window of one SMTP/HTTP round trip per
message), the lease expires and the message is sent again with the same idempotency key
(Message-ID / ``Idempotency-Key``), which lets receivers drop the copy. Any other crash point
sends nothing twice: claiming is one ``UPDATE`` in a ``BEGIN IMMEDIATE`` transaction, so two
engines never hold the same row.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from alerts.channels import Channels, SendError
from alerts.config import OutboxConfig
from core.db import Tx

log = logging.getLogger(__name__)

DeadHook = Callable[[sqlite3.Row, str], None]


def claim(
    conn: sqlite3.Connection, owner: str, now: float, lease: float, batch: int
) -> list[sqlite3.Row]:
    with Tx(conn):
        ids = [
            r[0]
            for r in conn.execute(
                """SELECT id FROM alert_outbox
                   WHERE (status='pending' AND next_at<=?) OR (status='sending' AND claimed_until<?)
                   ORDER BY next_at, id LIMIT ?""",
                (now, now, batch),
            )
        ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        conn.execute(
            f"""UPDATE alert_outbox SET status='sending', claimed_until=?, claimed_by=?,
                  attempts=attempts+1 WHERE id IN ({marks})""",
            [now + lease, owner, *ids],
        )
        return conn.execute(
            f"SELECT * FROM alert_outbox WHERE id IN ({marks}) ORDER BY id", ids
        ).fetchall()


def backoff(cfg: OutboxConfig, attempts: int) -> float:
    return min(cfg.backoff_max, cfg.backoff_initial * (2 ** max(0, attempts - 1)))


def deliver(
    conn: sqlite3.Connection,
    channels: Channels,
    cfg: OutboxConfig,
    contacts: dict[str, dict[str, Any]],
    owner: str,
    clock: Callable[[], float],
    on_dead: DeadHook,
) -> dict[str, int]:
    """Send every due row once; returns counts by outcome."""
    stats = {"sent": 0, "retry": 0, "dead": 0}
    rows = claim(conn, owner, clock(), cfg.lease, cfg.batch)
    for row in rows:
        payload = json.loads(row["payload"])
        contact = contacts.get(row["contact"], {"name": row["contact"]})
        try:
            try:
                channels.send(row["channel"], row["target"], payload, row["idem_key"], contact)
            except SendError:
                raise
            except Exception as exc:  # a bug or odd data in a channel: retry, then dead
                log.exception("channel %s raised", row["channel"])
                raise SendError(f"{row['channel']}: {type(exc).__name__}: {exc}") from None
        except SendError as exc:
            now = clock()
            err = str(exc)[:500]
            dead = exc.permanent or now - row["created_at"] >= cfg.dead_after
            if dead:
                conn.execute(
                    "UPDATE alert_outbox SET status='dead', last_error=?, claimed_until=0 WHERE id=? AND claimed_by=?",
                    (err, row["id"], owner),
                )
                stats["dead"] += 1
                log.error(
                    "notification %s to %s via %s is dead: %s",
                    row["id"],
                    row["contact"],
                    row["channel"],
                    err,
                )
                try:
                    on_dead(row, err)
                except Exception:
                    log.exception("could not raise the operator alert for outbox %s", row["id"])
            else:
                conn.execute(
                    """UPDATE alert_outbox SET status='pending', next_at=?, last_error=?, claimed_until=0
                       WHERE id=? AND claimed_by=?""",
                    (now + backoff(cfg, row["attempts"]), err, row["id"], owner),
                )
                stats["retry"] += 1
                log.warning(
                    "notification %s via %s failed (attempt %d): %s",
                    row["id"],
                    row["channel"],
                    row["attempts"],
                    err,
                )
            continue
        conn.execute(
            "UPDATE alert_outbox SET status='sent', sent_at=?, last_error=NULL WHERE id=? AND claimed_by=?",
            (clock(), row["id"], owner),
        )
        stats["sent"] += 1
    return stats


def summary(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        r[0]: r[1]
        for r in conn.execute("SELECT status, COUNT(*) FROM alert_outbox GROUP BY status")
    }
