"""From a fired alert to outbox rows: silence/inhibition → routing → grouping → quiet hours/digest.

Stages are separate as in Alertmanager. ``enqueue`` runs inside the firing transaction and only
writes ``alert_pending`` rows (UNIQUE per alert, occurrence, reason, contact, channel). ``flush``
turns due groups into one outbox row each, atomically with marking the rows queued, so two
engines flushing at once produce one message.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from alerts.config import AlertsConfig, QuietHours, Route
from alerts.db import dumps
from alerts.routing import (
    ESCALATION_ROUTE,
    OPERATOR_ROUTE,
    channel_target,
    contacts_for_level,
    escalation_route,
    group_key,
    operator_route,
    operators,
    receivers,
)
from alerts.silences import inhibited_by, silenced_by
from alerts.state import as_dict, event
from core.db import Tx
from core.schema import SHANGHAI

log = logging.getLogger(__name__)

IMMEDIATE_REASONS = ("escalation", "operator", "revisit", "overdue")


def enqueue(
    conn: sqlite3.Connection,
    cfg: AlertsConfig,
    routes: list[Route],
    contacts: list[dict[str, Any]],
    alert: sqlite3.Row,
    reason: str,
    occurrence: int,
    now: float,
    level: int | None = None,
) -> int:
    """Queue the alert for its recipients inside the caller's transaction; returns rows added."""
    if reason not in ("operator",):
        sid = silenced_by(conn, alert, now)
        if sid is not None:
            if alert["silenced_by"] != sid:
                conn.execute("UPDATE alerts SET silenced_by=? WHERE id=?", (sid, alert["id"]))
                event(
                    conn,
                    alert["id"],
                    "system",
                    "silenced",
                    f"静默规则 {sid}",
                    {"silence": sid},
                    now,
                )
            return 0
    if reason in ("firing", "refire", "escalation"):
        iid = inhibited_by(conn, alert, cfg.inhibit)
        if iid is not None:
            if alert["inhibited_by"] != iid:
                conn.execute("UPDATE alerts SET inhibited_by=? WHERE id=?", (iid, alert["id"]))
                event(
                    conn, alert["id"], "system", "inhibited", f"被预警 {iid} 抑制", {"by": iid}, now
                )
            return 0
    targets: list[tuple[Route, dict[str, Any], str]]
    if reason == "escalation":
        route = escalation_route(cfg)
        lvl = cfg.escalation.levels[min(level or 0, len(cfg.escalation.levels) - 1)]
        targets = [
            (route, c, ch)
            for c in contacts_for_level(contacts, lvl, alert)
            for ch in route.channels
            if channel_target(c, ch)
        ]
    elif reason == "operator":
        route = operator_route()
        targets = [
            (route, c, ch)
            for c in operators(contacts)
            for ch in route.channels
            if channel_target(c, ch)
        ]
    elif reason == "overdue":  # the assignee (when a contact) and the alert's usual receivers
        targets = receivers(routes, contacts, alert)
        route = escalation_route(cfg)
        assignee = next((c for c in contacts if c["name"] == alert["assignee"]), None)
        if assignee is not None and all(t[1]["name"] != assignee["name"] for t in targets):
            targets += [
                (route, assignee, ch) for ch in route.channels if channel_target(assignee, ch)
            ]
    else:
        targets = receivers(routes, contacts, alert)
        if reason == "resolved":
            targets = [t for t in targets if t[0].send_resolved]
    added = 0
    for route, contact, channel in targets:
        gk = f"{reason}:{alert['id']}" if reason in IMMEDIATE_REASONS else group_key(route, alert)
        cur = conn.execute(
            """INSERT OR IGNORE INTO alert_pending(alert_id, occurrence, reason, route, contact,
                 channel, group_key, severity, created_at) VALUES (?,?,?,?,?,?,?,?,?)""",
            (
                alert["id"],
                occurrence,
                reason,
                route.name,
                contact["name"],
                channel,
                gk,
                alert["severity"],
                now,
            ),
        )
        added += cur.rowcount
    if not targets and reason in ("firing", "refire", "escalation", "operator", "overdue"):
        event(conn, alert["id"], "system", "unrouted", "没有匹配的联系人或通道", None, now)
    return added


# ---- timing ----------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def quiet_until(q: QuietHours | None, now: float) -> float | None:
    """End of the quiet period ``now`` falls in, or None when not quiet."""
    if q is None:
        return None
    t = datetime.fromtimestamp(now, SHANGHAI)
    cur = t.hour * 60 + t.minute
    start, end = _minutes(q.start), _minutes(q.end)
    if start == end:
        return None
    inside = start <= cur < end if start < end else (cur >= start or cur < end)
    if not inside:
        return None
    end_dt = t.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if end_dt <= t:
        end_dt += timedelta(days=1)
    return end_dt.timestamp()


def digest_due(route: Route, oldest: float) -> float:
    t = datetime.fromtimestamp(oldest, SHANGHAI)
    if route.digest == "hourly":
        return (t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).timestamp()
    at = _minutes(route.digest_at)
    due = t.replace(hour=at // 60, minute=at % 60, second=0, microsecond=0)
    if due <= t:
        due += timedelta(days=1)
    return due.timestamp()


def group_due(route: Route, rows: list[sqlite3.Row], last_flush: float | None, now: float) -> float:
    oldest = min(r["created_at"] for r in rows)
    critical = any(r["severity"] == "critical" for r in rows)
    immediate = any(r["reason"] in IMMEDIATE_REASONS for r in rows)
    if route.digest and not critical and not immediate:
        return digest_due(route, oldest)
    due = oldest + route.group_wait
    if last_flush is not None and not immediate:
        due = max(due, last_flush + route.group_interval)
    if not critical and not immediate:
        quiet = quiet_until(route.quiet_hours, max(due, now))
        if quiet is not None:
            due = quiet
    return due


# ---- flushing ---------------------------------------------------------------------------------

Renderer = Callable[[list[dict[str, Any]], str], dict[str, Any]]


def flush(
    conn: sqlite3.Connection,
    cfg: AlertsConfig,
    routes: list[Route],
    contacts: list[dict[str, Any]],
    render: Renderer,
    now: float,
) -> int:
    """Turn every due group of pending notifications into one outbox row; returns rows made."""
    by_route = {r.name: r for r in routes}
    by_route[ESCALATION_ROUTE] = escalation_route(cfg)
    by_route[OPERATOR_ROUTE] = operator_route()
    contacts_by_name = {c["name"]: c for c in contacts}
    pending = conn.execute(
        "SELECT * FROM alert_pending WHERE state='pending' ORDER BY id LIMIT 5000"
    ).fetchall()
    groups: dict[tuple[str, str, str, str], list[sqlite3.Row]] = defaultdict(list)
    for r in pending:
        groups[(r["route"], r["contact"], r["channel"], r["group_key"])].append(r)
    made = 0
    for (route_name, contact_name, channel, gk), rows in groups.items():
        route = by_route.get(route_name) or Route(name=route_name, group_wait=0, group_interval=0)
        last = conn.execute(
            "SELECT last_flush FROM alert_groups WHERE route=? AND contact=? AND channel=? AND group_key=?",
            (route_name, contact_name, channel, gk),
        ).fetchone()
        if group_due(route, rows, last[0] if last else None, now) > now:
            continue
        contact = contacts_by_name.get(contact_name)
        target = channel_target(contact, channel) if contact else None
        ids = [r["id"] for r in rows]
        alert_ids = list(dict.fromkeys(r["alert_id"] for r in rows))
        alerts = {
            r["id"]: r
            for r in conn.execute(
                f"SELECT * FROM alerts WHERE id IN ({','.join('?' * len(alert_ids))})", alert_ids
            )
        }
        reasons = {r["reason"] for r in rows}
        reason = (
            "digest"
            if route.digest and len(rows) > 1
            else next(iter(reasons))
            if len(reasons) == 1
            else "firing"
        )
        keep = []
        dropped = []
        inhibited: list[tuple[int, int]] = []
        for r in rows:
            a = alerts.get(r["alert_id"])
            if a is None:
                dropped.append(r["id"])
                continue
            still_open = a["status"] in ("firing", "acknowledged", "dispatched")
            if r["reason"] in ("firing", "refire") and not still_open:
                dropped.append(r["id"])  # resolved while waiting in the group
            elif r["reason"] == "escalation" and a["status"] != "firing":
                dropped.append(r["id"])  # acknowledged in the meantime
            elif r["reason"] == "overdue" and a["status"] != "dispatched":
                dropped.append(r["id"])  # resolved (or re-dispatched) in the meantime
            elif r["reason"] != "operator" and silenced_by(conn, a, now) is not None:
                dropped.append(r["id"])
            elif r["reason"] in ("firing", "refire", "escalation") and (
                iid := inhibited_by(conn, a, cfg.inhibit)
            ):
                dropped.append(r["id"])  # a broader alert started while this one waited
                inhibited.append((iid, r["alert_id"]))
            else:
                keep.append(r)
        payload = None
        if keep and target:
            group_alerts = [as_dict(alerts[a]) for a in dict.fromkeys(r["alert_id"] for r in keep)]
            payload = render(group_alerts, reason)
        basis = f"{route_name}|{contact_name}|{channel}|{','.join(map(str, ids))}"
        idem = f"yq-{channel}-{hashlib.sha1(basis.encode()).hexdigest()[:24]}"  # ASCII: headers
        with Tx(conn):
            still = {
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM alert_pending WHERE state='pending' AND id IN ({','.join('?' * len(ids))})",
                    ids,
                )
            }
            if still != set(ids):
                continue  # another engine flushed this group first
            for iid, aid in inhibited:
                conn.execute("UPDATE alerts SET inhibited_by=? WHERE id=?", (iid, aid))
                event(conn, aid, "system", "inhibited", f"被预警 {iid} 抑制", {"by": iid}, now)
            if dropped:
                conn.execute(
                    f"UPDATE alert_pending SET state='dropped' WHERE id IN ({','.join('?' * len(dropped))})",
                    dropped,
                )
            keep_ids = [r["id"] for r in keep]
            if not keep_ids:
                continue
            if payload is None:  # the contact lost this channel's address since routing
                conn.execute(
                    f"UPDATE alert_pending SET state='dropped' WHERE id IN ({','.join('?' * len(keep_ids))})",
                    keep_ids,
                )
                for aid in {r["alert_id"] for r in keep}:
                    event(
                        conn,
                        aid,
                        "system",
                        "unrouted",
                        f"{contact_name} 没有 {channel} 地址",
                        None,
                        now,
                    )
                continue
            cur = conn.execute(
                """INSERT OR IGNORE INTO alert_outbox(idem_key, channel, contact, target, payload,
                     status, next_at, created_at) VALUES (?,?,?,?,?,'pending',?,?)""",
                (idem, channel, contact_name, target, dumps(payload), now, now),
            )
            oid = cur.lastrowid if cur.rowcount else None
            conn.execute(
                f"UPDATE alert_pending SET state='queued', outbox_id=? WHERE id IN ({','.join('?' * len(keep_ids))})",
                [oid, *keep_ids],
            )
            conn.execute(
                """INSERT INTO alert_groups(route, contact, channel, group_key, last_flush) VALUES (?,?,?,?,?)
                   ON CONFLICT(route, contact, channel, group_key) DO UPDATE SET last_flush=excluded.last_flush""",
                (route_name, contact_name, channel, gk, now),
            )
            for r in keep:
                if r["reason"] in ("firing", "refire"):
                    conn.execute(
                        """UPDATE alerts SET last_notified_at=?, notified_occurrence=MAX(notified_occurrence, ?)
                           WHERE id=?""",
                        (now, r["occurrence"], r["alert_id"]),
                    )
                event(
                    conn,
                    r["alert_id"],
                    "system",
                    "notified",
                    f"{REASON_LABEL.get(r['reason'], r['reason'])} → {contact_name}（{channel}）",
                    {"outbox": oid, "contact": contact_name, "channel": channel},
                    now,
                )
            made += 1
    return made


REASON_LABEL = {
    "firing": "通知",
    "refire": "再次通知",
    "resolved": "办结通知",
    "escalation": "升级",
    "revisit": "回访提醒",
    "overdue": "超期提醒",
    "operator": "运维告警",
}
