"""Contacts and routes: who hears of an alert, on which channel, grouped under which key.

Routes match on severity, category, street, rule; recipients come from the grid hierarchy
(grid → community → street → district contacts of the alert's place). A level with nobody
for that place falls back to the next level up, so an alert is never routed to no one.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alerts.config import LEVELS, AlertsConfig, ContactConfig, Route
from alerts.db import audit
from core.db import Tx

PHONE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")
CONTACT_FIELDS = (
    "name",
    "role",
    "level",
    "grid_id",
    "street",
    "community",
    "email",
    "phone",
    "webhook",
    "webhook_kind",
    "webhook_secret_env",
)
ESCALATION_ROUTE = "__escalation"
OPERATOR_ROUTE = "__operator"


class ContactError(ValueError):
    pass


def normalize_phone(phone: str) -> str:
    p = re.sub(r"[\s-]", "", phone)
    if not PHONE.match(p):
        raise ContactError(f"手机号码无效：{phone!r}（应为 11 位中国大陆手机号）")
    return p[-11:]


def validate_contact(data: dict[str, Any]) -> ContactConfig:
    data = {k: (v if v not in ("", None) else None) for k, v in data.items() if k in CONTACT_FIELDS}
    data = {k: v for k, v in data.items() if v is not None}
    try:
        c = ContactConfig.model_validate(data)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ContactError(f"contact {data.get('name', '?')!r}: {msg}") from None
    if c.phone:
        c.phone = normalize_phone(c.phone)
    if c.email and not EMAIL.match(c.email):
        raise ContactError(f"contact {c.name!r}: invalid email {c.email!r}")
    if c.webhook and not c.webhook.startswith(("http://", "https://")):
        raise ContactError(f"contact {c.name!r}: webhook must be an http(s) URL")
    if c.webhook and not c.webhook_kind:
        c.webhook_kind = "webhook"
    if c.level == "grid" and not c.grid_id:
        raise ContactError(f"contact {c.name!r}: a grid-level contact needs grid_id")
    if c.level == "street" and not c.street:
        raise ContactError(f"contact {c.name!r}: a street-level contact needs street")
    if c.level == "community" and not c.community:
        raise ContactError(f"contact {c.name!r}: a community-level contact needs community")
    if not (c.email or c.phone or c.webhook):
        raise ContactError(f"contact {c.name!r}: needs at least one of email, phone, webhook")
    return c


def upsert_contact(
    conn: sqlite3.Connection, c: ContactConfig, actor: str, origin: str = "cli"
) -> None:
    row = conn.execute("SELECT * FROM alert_contacts WHERE name=?", (c.name,)).fetchone()
    values = c.model_dump()
    if row is not None and all(row[k] == values[k] for k in values) and row["active"]:
        return
    conn.execute(
        f"""INSERT INTO alert_contacts({", ".join(values)}, active, origin, updated_at)
            VALUES ({", ".join("?" * len(values))}, 1, ?, ?)
            ON CONFLICT(name) DO UPDATE SET {", ".join(f"{k}=excluded.{k}" for k in values)},
              active=1, origin=excluded.origin, updated_at=excluded.updated_at""",
        (*values.values(), origin, time.time()),
    )
    audit(
        conn,
        actor,
        "contact.update" if row else "contact.create",
        f"contact:{c.name}",
        dict(row) if row else None,
        values,
    )


def deactivate_contact(conn: sqlite3.Connection, name: str, actor: str) -> bool:
    cur = conn.execute(
        "UPDATE alert_contacts SET active=0, updated_at=? WHERE name=? AND active=1",
        (time.time(), name),
    )
    if cur.rowcount:
        audit(conn, actor, "contact.delete", f"contact:{name}")
    return bool(cur.rowcount)


def list_contacts(conn: sqlite3.Connection, include_inactive: bool = False) -> list[dict]:
    q = "SELECT * FROM alert_contacts" + ("" if include_inactive else " WHERE active=1")
    return [dict(r) for r in conn.execute(q + " ORDER BY level, name")]


def parse_contacts_file(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        raise ContactError(f"contacts file not found: {p}")
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".csv":
        return [dict(r) for r in csv.DictReader(io.StringIO(text))]
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ContactError(f"contacts file {p}: {str(exc).splitlines()[0]}") from None
    if isinstance(data, dict):
        data = data.get("contacts", [])
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ContactError(f"contacts file {p}: expected a list of contacts")
    return data


def import_contacts(
    conn: sqlite3.Connection, records: list[dict[str, Any]], actor: str, origin: str
) -> tuple[int, list[str]]:
    """All-or-nothing: every record is validated first, errors name the record."""
    contacts, errors = [], []
    for i, rec in enumerate(records, 1):
        try:
            contacts.append(validate_contact(rec))
        except ContactError as exc:
            errors.append(f"#{i}: {exc}")
    if errors:
        return 0, errors
    with Tx(conn):
        for c in contacts:
            upsert_contact(conn, c, actor, origin)
    return len(contacts), []


def sync_config_contacts(conn: sqlite3.Connection, cfg: AlertsConfig, base: Path) -> int:
    records: list[dict[str, Any]] = [c.model_dump() for c in cfg.contacts]
    if cfg.contacts_file:
        p = Path(cfg.contacts_file)
        records += parse_contacts_file(p if p.is_absolute() else base / p)
    if not records:
        return 0
    n, errors = import_contacts(conn, records, "config", "config")
    if errors:
        raise ContactError("alerts.contacts: " + "; ".join(errors[:5]))
    return n


# ---- routing ---------------------------------------------------------------------------------


def route_matches(route: Route, alert: sqlite3.Row | dict[str, Any]) -> bool:
    m = route.match
    if m.severity and alert["severity"] not in m.severity:
        return False
    if m.category and alert["category"] not in m.category:
        return False
    if m.street and alert["street"] not in m.street:
        return False
    if m.rule and alert["rule"] not in m.rule:
        return False
    return not (m.rule_type and alert["rule_type"] not in m.rule_type)


def contacts_for_level(
    contacts: list[dict[str, Any]], level: str, alert: sqlite3.Row | dict[str, Any]
) -> list[dict[str, Any]]:
    """Contacts of ``level`` for the alert's place, falling back upward when there are none."""
    start = LEVELS.index(level)
    for lvl in LEVELS[start:]:
        if lvl == "district":
            found = [c for c in contacts if c["level"] == "district"]
        else:
            place = alert[lvl if lvl != "grid" else "grid_id"]
            if not place:
                continue
            col = "grid_id" if lvl == "grid" else lvl
            found = [c for c in contacts if c["level"] == lvl and c[col] == place]
        if found:
            return found
    return []


def channel_target(contact: dict[str, Any], channel: str) -> str | None:
    if channel == "email":
        return contact.get("email")
    if channel == "sms":
        return contact.get("phone")
    if contact.get("webhook") and (contact.get("webhook_kind") or "webhook") == channel:
        return contact["webhook"]
    return None


def group_key(route: Route, alert: sqlite3.Row | dict[str, Any]) -> str:
    parts = []
    for f in route.group_by:
        try:
            parts.append(f"{f}={alert[f]}")
        except (KeyError, IndexError):
            parts.append(f"{f}=")
    return "|".join(parts) or "all"


def receivers(
    routes: list[Route],
    contacts: list[dict[str, Any]],
    alert: sqlite3.Row | dict[str, Any],
) -> list[tuple[Route, dict[str, Any], str]]:
    """(route, contact, channel) for every recipient, one per contact and channel."""
    out: list[tuple[Route, dict[str, Any], str]] = []
    seen: set[tuple[str, str]] = set()
    by_name = {c["name"]: c for c in contacts}
    for route in routes:
        if not route_matches(route, alert):
            continue
        chosen: list[dict[str, Any]] = []
        for lvl in route.levels:
            chosen += contacts_for_level(contacts, lvl, alert)
        chosen += [by_name[n] for n in route.contacts if n in by_name]
        for c in chosen:
            for ch in route.channels:
                if channel_target(c, ch) and (c["name"], ch) not in seen:
                    seen.add((c["name"], ch))
                    out.append((route, c, ch))
        if not route.continue_:
            break
    return out


def escalation_route(cfg: AlertsConfig) -> Route:
    return Route(
        name=ESCALATION_ROUTE,
        levels=list(cfg.escalation.levels),
        channels=list(cfg.escalation.channels),
        group_by=["id"],
        group_wait=0,
        group_interval=0,
    )


def operator_route() -> Route:
    return Route(
        name=OPERATOR_ROUTE,
        levels=[],
        channels=["email", "sms", "wecom", "dingtalk", "feishu", "webhook"],
        group_by=["id"],
        group_wait=0,
        group_interval=0,
    )


def operators(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ops = [c for c in contacts if c["level"] == "operator"]
    return ops or [c for c in contacts if c["level"] == "district"]
