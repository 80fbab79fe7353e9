"""HTTP API for alerts, silences, rules and contacts (``api/app.py OPTIONAL_ROUTERS``).

Reading alerts needs viewer; acting on them (ack/dispatch/resolve/comment/revisit) officer;
rules and contacts are changed by admins, and every change is written to ``alert_audit``.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts import silences, state
from alerts.db import thread_conn
from alerts.routing import (
    ContactError,
    deactivate_contact,
    import_contacts,
    list_contacts,
)
from alerts.rules import RuleError, RuleSet
from api.deps import Admin, Analyst, Officer, ServicesDep, Viewer, parse_time, require
from core.keys import Principal

router = APIRouter(tags=["alerts"])
StreamViewer = Annotated[Principal, Depends(require("viewer", allow_query_key=True))]


def _conn(services):
    return thread_conn(services.settings.path(services.settings.app_db))


def _list(v: list[str] | None) -> list[str]:
    out: list[str] = []
    for x in v or []:
        out += [p.strip() for p in x.split(",") if p.strip()]
    return out


@router.get("/alerts")
def list_alerts(
    services: ServicesDep,
    _: Viewer,
    status: list[str] | None = Query(
        None,
        description="firing, acknowledged, dispatched, resolved, revisited; 'open' = the first three",
    ),
    severity: list[str] | None = Query(None),
    rule: list[str] | None = Query(None),
    street: list[str] | None = Query(None),
    grid: list[str] | None = Query(None),
    category: list[str] | None = Query(None),
    since: str | None = Query(None, description="ISO time or duration (24h, 7d)"),
    revisit_due: bool = False,
    overdue: bool = Query(False, description="dispatched and past the deadline"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=100000),
) -> dict[str, Any]:
    clauses, params = [], []
    statuses = _list(status)
    if "open" in statuses:
        statuses = [s for s in statuses if s != "open"] + list(state.OPEN)
    bad = [s for s in statuses if s not in state.STATUSES]
    if bad:
        raise HTTPException(
            400, f"unknown status {bad[0]!r}; use {', '.join(state.STATUSES)} or open"
        )
    for col, values in (
        ("status", statuses),
        ("severity", _list(severity)),
        ("rule", _list(rule)),
        ("street", _list(street)),
        ("grid_id", _list(grid)),
        ("category", _list(category)),
    ):
        if values:
            clauses.append(f"{col} IN ({','.join('?' * len(values))})")
            params += values
    start = parse_time(since, "since")
    if start is not None:
        clauses.append("last_at >= ?")
        params.append(start.timestamp())
    if revisit_due:
        clauses.append("status='resolved' AND revisit_at IS NOT NULL AND revisit_at <= ?")
        params.append(time.time())
    if overdue:
        clauses.append("status='dispatched' AND deadline IS NOT NULL AND deadline <= ?")
        params.append(time.time())
    where = " AND ".join(clauses) or "1"
    conn = _conn(services)
    total = conn.execute(f"SELECT COUNT(*) FROM alerts WHERE {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT * FROM alerts WHERE {where} ORDER BY last_at DESC, id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return {"total": total, "alerts": [state.as_dict(r) for r in rows]}


def _events_since(conn, last_id: int, limit: int = 200) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT e.id, e.alert_id, e.at, e.actor, e.action, e.note, a.status, a.severity, a.title,
                  a.rule, a.key, a.grid_id, a.street
           FROM alert_events e JOIN alerts a ON a.id = e.alert_id
           WHERE e.id > ? ORDER BY e.id LIMIT ?""",
        (last_id, limit),
    ).fetchall()
    return [dict(r) for r in rows]


@router.get("/alerts/stream")
def alert_stream(
    request: Request,
    services: ServicesDep,
    _: StreamViewer,
    since_id: int | None = Query(None, ge=0, description="replay events after this id"),
    max_seconds: float = Query(300, gt=0, le=3600, description="the client reconnects after this"),
    last_event_id: str | None = Header(None),
) -> StreamingResponse:
    """Server-sent events: one ``alert`` event per lifecycle change (fired, ack, notified …).

    EventSource cannot send headers: pass the key as ``?api_key=`` and it reconnects with
    ``Last-Event-ID`` so nothing is missed between connections."""
    path = services.settings.path(services.settings.app_db)
    start = since_id
    if start is None and last_event_id and last_event_id.isdigit():
        start = int(last_event_id)
    if start is None:
        start = (
            thread_conn(path).execute("SELECT COALESCE(MAX(id), 0) FROM alert_events").fetchone()[0]
        )

    def gen():
        last = start
        deadline = time.monotonic() + max_seconds
        beat = time.monotonic()
        yield "retry: 3000\n\n"
        while time.monotonic() < deadline:
            events = _events_since(thread_conn(path), last)
            for e in events:
                last = e["id"]
                yield f"id: {e['id']}\nevent: alert\ndata: {json.dumps(e, ensure_ascii=False)}\n\n"
            if not events:
                if time.monotonic() - beat > 15:
                    beat = time.monotonic()
                    yield ": keep-alive\n\n"
                time.sleep(0.5)

    return StreamingResponse(
        gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: int, services: ServicesDep, _: Viewer) -> dict[str, Any]:
    conn = _conn(services)
    try:
        row = state.get(conn, alert_id)
    except state.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    ids = state.evidence_ids(conn, row, limit=services.settings.alerts.evidence_posts * 4)
    posts = services.store.get_many(ids) if ids else []
    out = state.as_dict(row)
    out["evidence"] = [p.model_dump(mode="json") for p in posts]
    out["events"] = state.events(conn, alert_id)
    out["notifications"] = [
        dict(r)
        for r in conn.execute(
            """SELECT o.id, o.channel, o.contact, o.status, o.attempts, o.last_error, o.created_at, o.sent_at
               FROM alert_outbox o WHERE o.id IN
               (SELECT outbox_id FROM alert_pending WHERE alert_id=? AND outbox_id IS NOT NULL)
               ORDER BY o.id""",
            (alert_id,),
        )
    ]
    return out


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=4000)


class DispatchIn(NoteIn):
    assignee: str = Field(..., min_length=1, max_length=200)
    deadline: str | None = Field(None, description="ISO time or a duration from now (4h, 2d)")


class ResolveIn(NoteIn):
    revisit_at: str | None = Field(None, description="ISO time or a duration from now (3d)")
    revisit: bool = True


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(..., min_length=1, max_length=4000)


def _future(value: str | None, default_s: float, name: str) -> float:
    if not value:
        return time.time() + default_s
    v = value.strip()
    if v[:-1].isdigit() and v[-1] in "mhdw":
        from alerts.config import parse_duration

        return time.time() + parse_duration(v)
    t = parse_time(v, name)
    return t.timestamp() if t else time.time() + default_s


def _act(services, fn, alert_id: int, *args, **kw) -> dict[str, Any]:
    conn = _conn(services)
    try:
        row = fn(conn, alert_id, *args, **kw)
    except state.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except state.TransitionError as exc:
        raise HTTPException(409, str(exc)) from None
    return state.as_dict(row)


@router.post("/alerts/{alert_id}/ack")
def ack_alert(alert_id: int, services: ServicesDep, who: Officer, body: NoteIn = Body(NoteIn())):
    return _act(services, state.acknowledge, alert_id, who.name, body.note)


@router.post("/alerts/{alert_id}/dispatch")
def dispatch_alert(alert_id: int, body: DispatchIn, services: ServicesDep, who: Officer):
    deadline = _future(body.deadline, services.settings.alerts.dispatch_deadline, "deadline")
    return _act(services, state.dispatch, alert_id, who.name, body.assignee, deadline, body.note)


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    alert_id: int, services: ServicesDep, who: Officer, body: ResolveIn = Body(ResolveIn())
):
    revisit = (
        _future(body.revisit_at, services.settings.alerts.revisit_after, "revisit_at")
        if body.revisit
        else None
    )
    return _act(services, state.resolve, alert_id, who.name, body.note, revisit)


@router.post("/alerts/{alert_id}/revisit")
def revisit_alert(
    alert_id: int, services: ServicesDep, who: Officer, body: NoteIn = Body(NoteIn())
):
    return _act(services, state.revisit, alert_id, who.name, body.note)


@router.post("/alerts/{alert_id}/comment")
def comment_alert(alert_id: int, body: CommentIn, services: ServicesDep, who: Officer):
    return _act(services, state.comment, alert_id, who.name, body.note)


# ---- silences ---------------------------------------------------------------------------------


@router.get("/silences")
def get_silences(services: ServicesDep, _: Viewer, active: bool = False) -> dict[str, Any]:
    return {"silences": silences.listing(_conn(services), active_only=active)}


@router.post("/silences", status_code=201)
def post_silence(services: ServicesDep, who: Officer, body: Any = Body(...)) -> dict[str, Any]:
    try:
        s = silences.SilenceIn.model_validate(body)
        sid = silences.create(_conn(services), s, who.name)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(400, msg) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"id": sid}


@router.delete("/silences/{sid}")
def delete_silence(sid: int, services: ServicesDep, who: Officer) -> dict[str, Any]:
    if not silences.expire(_conn(services), sid, who.name):
        raise HTTPException(404, f"no active silence {sid}")
    return {"expired": sid}


# ---- rules ------------------------------------------------------------------------------------


def _ruleset(services) -> RuleSet:
    return RuleSet(services.settings.alerts)


@router.get("/rules")
def get_rules(services: ServicesDep, _: Analyst) -> dict[str, Any]:
    conn = _conn(services)
    rs = _ruleset(services)
    return {
        "rules": [
            {**r.model_dump(mode="json"), "origin": rs.origin(conn, r.name)} for r in rs.load(conn)
        ]
    }


@router.get("/rules/{name}")
def get_rule(name: str, services: ServicesDep, _: Analyst) -> dict[str, Any]:
    conn = _conn(services)
    for r in _ruleset(services).load(conn):
        if r.name == name:
            return r.model_dump(mode="json")
    raise HTTPException(404, f"no rule {name[:100]!r}")


@router.post("/rules", status_code=201)
def create_rule(services: ServicesDep, who: Admin, body: Any = Body(...)) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a rule object")
    conn = _conn(services)
    if any(r.name == body.get("name") for r in _ruleset(services).load(conn)):
        raise HTTPException(
            409, f"rule {str(body.get('name'))[:100]!r} exists; use PUT to change it"
        )
    try:
        return _ruleset(services).put(conn, body, who.name).model_dump(mode="json")
    except RuleError as exc:
        raise HTTPException(400, str(exc)) from None


@router.put("/rules/{name}")
def put_rule(name: str, services: ServicesDep, who: Admin, body: Any = Body(...)) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a rule object")
    body = {**body, "name": name}
    try:
        return _ruleset(services).put(_conn(services), body, who.name).model_dump(mode="json")
    except RuleError as exc:
        raise HTTPException(400, str(exc)) from None


@router.delete("/rules/{name}")
def delete_rule(name: str, services: ServicesDep, who: Admin) -> dict[str, Any]:
    if not _ruleset(services).delete(_conn(services), name, who.name):
        raise HTTPException(404, f"no rule {name[:100]!r}")
    return {"deleted": name}


@router.get("/rules-audit")
def rules_audit(services: ServicesDep, _: Admin, limit: int = Query(100, ge=1, le=1000)):
    rows = (
        _conn(services)
        .execute("SELECT * FROM alert_audit ORDER BY id DESC LIMIT ?", (limit,))
        .fetchall()
    )
    return {"audit": [dict(r) for r in rows]}


# ---- contacts ---------------------------------------------------------------------------------


@router.get("/contacts")
def get_contacts(services: ServicesDep, _: Officer) -> dict[str, Any]:
    return {"contacts": list_contacts(_conn(services))}


@router.post("/contacts", status_code=201)
def post_contacts(services: ServicesDep, who: Admin, body: Any = Body(...)) -> dict[str, Any]:
    records = body if isinstance(body, list) else [body]
    if not all(isinstance(r, dict) for r in records) or len(records) > 5000:
        raise HTTPException(400, "body must be a contact object or a list of ≤ 5000 contacts")
    try:
        n, errors = import_contacts(_conn(services), records, who.name, "api")
    except ContactError as exc:
        raise HTTPException(400, str(exc)) from None
    if errors:
        raise HTTPException(400, "; ".join(errors[:20]))
    return {"saved": n}


@router.delete("/contacts/{name}")
def delete_contact(name: str, services: ServicesDep, who: Admin) -> dict[str, Any]:
    if not deactivate_contact(_conn(services), name, who.name):
        raise HTTPException(404, f"no active contact {name[:100]!r}")
    return {"deleted": name}
