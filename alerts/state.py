"""Alert lifecycle: fire (dedup per rule+key, realert), acknowledge, dispatch, resolve, revisit.

firing → acknowledged → dispatched → resolved → revisited, each transition an ``alert_events``
row with who, when and note. Firing and queueing its notifications happen in one transaction,
so a crash can neither leave an alert without its notification nor queue one twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from alerts.db import dumps
from core.db import Tx

OPEN = ("firing", "acknowledged", "dispatched")
STATUSES = ("firing", "acknowledged", "dispatched", "resolved", "revisited")
SEVERITY_ZH = {"info": "提示", "warning": "警告", "critical": "严重"}
STATUS_ZH = {
    "firing": "待确认",
    "acknowledged": "已确认",
    "dispatched": "已派单",
    "resolved": "已办结",
    "revisited": "已回访",
}


class TransitionError(ValueError):
    """The requested transition is not allowed from the alert's current status (HTTP 409)."""


class NotFound(LookupError):
    pass


@dataclass
class Firing:
    rule: str
    rule_type: str
    severity: str
    key_field: str | None
    key: str
    title: str
    summary: str = ""
    observed: float | None = None
    baseline: float | None = None
    probability: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    post_ids: list[str] = field(default_factory=list)
    category: str | None = None
    street: str | None = None
    community: str | None = None
    grid_id: str | None = None
    event_id: str | None = None
    auto_resolve: bool = False
    relapse_of: int | None = None


@dataclass
class FireResult:
    alert_id: int
    created: bool
    notify: bool
    occurrence: int
    new_posts: int


def event(
    conn: sqlite3.Connection,
    alert_id: int,
    actor: str,
    action: str,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    now: float | None = None,
) -> None:
    conn.execute(
        "INSERT INTO alert_events(alert_id, at, actor, action, note, data) VALUES (?,?,?,?,?,?)",
        (alert_id, now or time.time(), actor, action, note, dumps(data or {})),
    )


def fire(
    conn: sqlite3.Connection, f: Firing, realert: float, now: float, match: bool = False
) -> FireResult | None:
    """Record a firing inside the caller's transaction.

    ``match`` firings are idempotent per (rule, post): posts already counted for the rule are
    ignored, and a firing with no new post does nothing (a re-processed batch is a no-op).
    Returns None when nothing changed.
    """
    new_ids: list[str] = []
    open_row = conn.execute(
        "SELECT * FROM alerts WHERE rule=? AND key=? AND status IN ('firing','acknowledged','dispatched')",
        (f.rule, f.key),
    ).fetchone()
    if match:
        for pid in f.post_ids:
            seen = conn.execute(
                "SELECT 1 FROM alert_posts WHERE rule=? AND post_id=?", (f.rule, pid)
            ).fetchone()
            if not seen:
                new_ids.append(pid)
        if not new_ids:
            return None
    else:
        new_ids = list(f.post_ids)
    values = dict(
        severity=f.severity,
        title=f.title,
        summary=f.summary,
        observed=f.observed,
        baseline=f.baseline,
        probability=f.probability,
        details=dumps(f.details),
    )
    if open_row is not None:
        alert_id = open_row["id"]
        if match:
            values["observed"] = (open_row["observed"] or 0) + len(new_ids)
        last = open_row["last_notified_at"]
        notify = (
            open_row["status"] == "firing"
            and last is not None
            and now - last >= realert
            and open_row["notified_occurrence"] >= open_row["occurrence"]
        )
        occurrence = open_row["occurrence"] + (1 if notify else 0)
        sets = ", ".join(f"{k}=?" for k in values)
        conn.execute(
            f"UPDATE alerts SET {sets}, last_at=?, occurrence=? WHERE id=?",
            (*values.values(), now, occurrence, alert_id),
        )
        if notify:
            event(conn, alert_id, "system", "refired", f.summary, {"occurrence": occurrence}, now)
        created = False
    else:
        if match:
            values["observed"] = float(len(new_ids))
        recent = conn.execute(
            "SELECT MAX(COALESCE(last_notified_at, first_at)) FROM alerts WHERE rule=? AND key=?",
            (f.rule, f.key),
        ).fetchone()[0]
        notify = recent is None or now - recent >= realert or f.relapse_of is not None
        cur = conn.execute(
            """INSERT INTO alerts(rule, rule_type, severity, key_field, key, status, title, summary,
                 category, street, community, grid_id, event_id, observed, baseline, probability,
                 details, first_at, last_at, auto_resolve, relapse_of)
               VALUES (?,?,?,?,?,'firing',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                f.rule,
                f.rule_type,
                f.severity,
                f.key_field,
                f.key,
                f.title,
                f.summary,
                f.category,
                f.street,
                f.community,
                f.grid_id,
                f.event_id,
                values["observed"],
                f.baseline,
                f.probability,
                values["details"],
                now,
                now,
                int(f.auto_resolve),
                f.relapse_of,
            ),
        )
        alert_id = int(cur.lastrowid)
        occurrence = 1
        created = True
        event(
            conn,
            alert_id,
            "system",
            "fired",
            f.summary,
            {"observed": values["observed"], "baseline": f.baseline, "p": f.probability},
            now,
        )
        if not notify:
            event(
                conn,
                alert_id,
                "system",
                "realert_suppressed",
                "重复预警间隔内，不再通知",
                None,
                now,
            )
    for pid in new_ids:
        conn.execute(
            "INSERT OR IGNORE INTO alert_posts(rule, post_id, alert_id, added_at) VALUES (?,?,?,?)",
            (f.rule, pid, alert_id, now),
        )
    return FireResult(alert_id, created, notify, occurrence, len(new_ids))


def get(conn: sqlite3.Connection, alert_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM alerts WHERE id=?", (alert_id,)).fetchone()
    if row is None:
        raise NotFound(f"没有编号为 {alert_id} 的预警")
    return row


def as_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["details"] = json.loads(d.get("details") or "{}")
    d["status_zh"] = STATUS_ZH.get(d["status"], d["status"])
    d["severity_zh"] = SEVERITY_ZH.get(d["severity"], d["severity"])
    return d


def _transition(
    conn: sqlite3.Connection,
    alert_id: int,
    allowed: tuple[str, ...],
    action: str,
    actor: str,
    note: str | None,
    sets: dict[str, Any],
    data: dict[str, Any] | None = None,
    now: float | None = None,
) -> sqlite3.Row:
    now = now or time.time()
    with Tx(conn):
        row = get(conn, alert_id)
        if row["status"] not in allowed:
            raise TransitionError(
                f"预警 {alert_id} 当前状态为「{STATUS_ZH.get(row['status'], row['status'])}」，不能执行 {action}"
            )
        if sets:
            cols = ", ".join(f"{k}=?" for k in sets)
            conn.execute(f"UPDATE alerts SET {cols} WHERE id=?", (*sets.values(), alert_id))
        event(conn, alert_id, actor, action, note, data, now)
    return get(conn, alert_id)


def acknowledge(conn, alert_id: int, actor: str, note: str | None = None, now=None):
    now = now or time.time()
    return _transition(
        conn,
        alert_id,
        ("firing",),
        "ack",
        actor,
        note,
        {"status": "acknowledged", "acked_by": actor, "acked_at": now},
        now=now,
    )


def dispatch(
    conn,
    alert_id: int,
    actor: str,
    assignee: str,
    deadline: float,
    note: str | None = None,
    now=None,
):
    now = now or time.time()
    return _transition(
        conn,
        alert_id,
        ("firing", "acknowledged", "dispatched"),
        "dispatch",
        actor,
        note,
        {
            "status": "dispatched",
            "assignee": assignee,
            "deadline": deadline,
            "deadline_notified": 0,  # a new deadline gets its own overdue reminder
            "acked_by": actor,
            "acked_at": now,
        },
        {"assignee": assignee, "deadline": deadline},
        now=now,
    )


def resolve(
    conn,
    alert_id: int,
    actor: str,
    note: str | None,
    revisit_at: float | None = None,
    now=None,
):
    now = now or time.time()
    return _transition(
        conn,
        alert_id,
        OPEN,
        "resolve",
        actor,
        note,
        {
            "status": "resolved",
            "resolved_by": actor,
            "resolved_at": now,
            "resolution": note,
            "revisit_at": revisit_at,
        },
        {"revisit_at": revisit_at},
        now=now,
    )


def revisit(conn, alert_id: int, actor: str, note: str | None, now=None):
    return _transition(
        conn, alert_id, ("resolved",), "revisit", actor, note, {"status": "revisited"}, now=now
    )


def comment(conn, alert_id: int, actor: str, note: str, now=None):
    return _transition(conn, alert_id, STATUSES, "comment", actor, note, {}, now=now)


def events(conn: sqlite3.Connection, alert_id: int) -> list[dict[str, Any]]:
    return [
        {**dict(r), "data": json.loads(r["data"] or "{}")}
        for r in conn.execute(
            "SELECT * FROM alert_events WHERE alert_id=? ORDER BY id", (alert_id,)
        )
    ]


def evidence_ids(conn: sqlite3.Connection, row: sqlite3.Row, limit: int = 20) -> list[str]:
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT post_id FROM alert_posts WHERE alert_id=? ORDER BY added_at DESC, post_id LIMIT ?",
            (row["id"], limit),
        )
    ]
    if not ids:
        ids = list(json.loads(row["details"] or "{}").get("posts", []))[:limit]
    return ids


LABEL_FIELDS = (
    "rule",
    "rule_type",
    "severity",
    "key_field",
    "key",
    "category",
    "street",
    "community",
    "grid_id",
    "event_id",
)


def labels(row: sqlite3.Row | dict[str, Any]) -> dict[str, str]:
    """What silences and routes match on."""
    out = {k: str(row[k]) for k in LABEL_FIELDS if row[k] is not None}
    if row["key_field"]:
        out[row["key_field"]] = str(row["key"])
    return out
