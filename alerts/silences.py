"""Silences (matchers + expiry, like Alertmanager's) and inhibition (a street-level critical
alert mutes grid-level alerts of the same category in that street)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.config import InhibitRule
from alerts.db import audit, dumps
from alerts.state import LABEL_FIELDS, labels
from core.db import Tx

# a key field (e.g. source) also becomes a label, see alerts.state.labels
MATCHABLE = (*LABEL_FIELDS, "source", "source_type")


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: str = Field(..., max_length=200)
    regex: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v not in MATCHABLE:
            raise ValueError(f"matcher name must be one of {', '.join(MATCHABLE)}")
        return v

    def model_post_init(self, __context: Any) -> None:
        if self.regex:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from None

    def matches(self, lab: dict[str, str]) -> bool:
        v = lab.get(self.name)
        if v is None:
            return False
        return bool(re.fullmatch(self.value, v)) if self.regex else v == self.value


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[Matcher] = Field(..., min_length=1, max_length=20)
    starts_at: float | None = None
    ends_at: float | None = None
    duration: float | None = Field(None, gt=0, le=90 * 86400, description="seconds from start")
    comment: str = Field("", max_length=1000)


def create(conn: sqlite3.Connection, s: SilenceIn, actor: str, now: float | None = None) -> int:
    now = now or time.time()
    start = s.starts_at or now
    end = s.ends_at or (start + (s.duration or 3600))
    if end <= start:
        raise ValueError("ends_at must be after starts_at")
    if end - start > 90 * 86400:
        raise ValueError("a silence lasts at most 90 days")
    matchers = [m.model_dump() for m in s.matchers]
    with Tx(conn):
        cur = conn.execute(
            "INSERT INTO alert_silences(matchers, starts_at, ends_at, created_by, comment, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (dumps(matchers), start, end, actor, s.comment, now),
        )
        sid = int(cur.lastrowid)
        audit(
            conn,
            actor,
            "silence.create",
            f"silence:{sid}",
            None,
            {"matchers": matchers, "ends_at": end},
        )
    return sid


def expire(conn: sqlite3.Connection, sid: int, actor: str, now: float | None = None) -> bool:
    now = now or time.time()
    with Tx(conn):
        cur = conn.execute(
            "UPDATE alert_silences SET ends_at=?, expired_by=? WHERE id=? AND ends_at>?",
            (now, actor, sid, now),
        )
        if cur.rowcount:
            audit(conn, actor, "silence.expire", f"silence:{sid}")
    return bool(cur.rowcount)


def listing(conn: sqlite3.Connection, active_only: bool = False, now: float | None = None):
    now = now or time.time()
    q = "SELECT * FROM alert_silences"
    params: list[Any] = []
    if active_only:
        q += " WHERE starts_at<=? AND ends_at>?"
        params = [now, now]
    out = []
    for r in conn.execute(q + " ORDER BY id DESC LIMIT 500", params):
        d = dict(r)
        d["matchers"] = json.loads(d["matchers"])
        d["active"] = d["starts_at"] <= now < d["ends_at"]
        out.append(d)
    return out


def silenced_by(conn: sqlite3.Connection, alert: sqlite3.Row, now: float) -> int | None:
    lab = labels(alert)
    for r in conn.execute(
        "SELECT id, matchers FROM alert_silences WHERE starts_at<=? AND ends_at>?", (now, now)
    ):
        ms = [Matcher.model_validate(m) for m in json.loads(r["matchers"])]
        if all(m.matches(lab) for m in ms):
            return int(r["id"])
    return None


def inhibited_by(
    conn: sqlite3.Connection, alert: sqlite3.Row, rules: list[InhibitRule]
) -> int | None:
    for ir in rules:
        if alert["key_field"] != ir.target_key:
            continue
        value = alert[ir.source_key] if ir.source_key in alert.keys() else None  # noqa: SIM118 (sqlite3.Row)
        if not value:
            continue
        q = (
            "SELECT * FROM alerts WHERE status IN ('firing','acknowledged','dispatched')"
            " AND key_field=? AND key=? AND severity=? AND id<>?"
        )
        for src in conn.execute(q, (ir.source_key, value, ir.source_severity, alert["id"])):
            if all(src[f] is not None and src[f] == alert[f] for f in ir.equal):
                return int(src["id"])
    return None
