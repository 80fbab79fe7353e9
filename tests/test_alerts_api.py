"""Alert API: lifecycle with roles and audit trail, rules CRUD (admin, audited, validated),
silences, contacts, the SSE stream, and the grid-map helper."""

from __future__ import annotations

import time

from alerts.engine import Engine
from alerts.queries import open_alert_counts_by_grid
from alerts.rules import RuleSet
from tests.alerts_support import post


def _fire(services):
    rules = {
        "name": "crit",
        "type": "match",
        "severity": "critical",
        "filter": {"risk": ["critical"]},
        "key": "grid_id",
    }
    engine = Engine(services.settings, services.store)
    RuleSet(services.settings.alerts).put(engine.conn, rules, "test")
    p = post("a:1", time.time(), "有人扬言聚集", grid="G7", street="唐冶街道", risk="critical")
    services.store.upsert([p])
    engine.on_posts([p])
    return engine


def test_lifecycle_roles_and_history(client, services, api_keys):
    _fire(services)
    r = client.get("/api/v1/alerts", params={"status": "open"})
    assert r.status_code == 200 and r.json()["total"] == 1
    aid = r.json()["alerts"][0]["id"]
    detail = client.get(f"/api/v1/alerts/{aid}").json()
    assert detail["evidence"][0]["id"] == "a:1" and detail["observed"] == 1
    assert open_alert_counts_by_grid(services.app_db) == {"G7": 1}
    viewer = {"X-API-Key": api_keys["viewer"]}
    assert client.post(f"/api/v1/alerts/{aid}/ack", headers=viewer).status_code == 403
    officer = {"X-API-Key": api_keys["officer"]}
    assert (
        client.post(f"/api/v1/alerts/{aid}/ack", json={"note": "收到"}, headers=officer).json()[
            "status"
        ]
        == "acknowledged"
    )
    assert client.post(f"/api/v1/alerts/{aid}/ack", headers=officer).status_code == 409
    r = client.post(
        f"/api/v1/alerts/{aid}/dispatch",
        headers=officer,
        json={"assignee": "唐冶街道网格员", "deadline": "4h", "note": "请核实"},
    )
    assert r.json()["status"] == "dispatched" and r.json()["deadline"] > time.time() + 3 * 3600
    assert client.get("/api/v1/alerts", params={"overdue": True}).json()["total"] == 0
    services.app_db.execute("UPDATE alerts SET deadline=? WHERE id=?", (time.time() - 60, aid))
    assert client.get("/api/v1/alerts", params={"overdue": True}).json()["total"] == 1
    assert (
        client.post(
            f"/api/v1/alerts/{aid}/comment", headers=officer, json={"note": "已到场"}
        ).status_code
        == 200
    )
    r = client.post(
        f"/api/v1/alerts/{aid}/resolve",
        headers=officer,
        json={"note": "已协调", "revisit_at": "3d"},
    )
    assert r.json()["status"] == "resolved" and r.json()["revisit_at"] > time.time() + 2 * 86400
    assert (
        client.post(
            f"/api/v1/alerts/{aid}/revisit", headers=officer, json={"note": "群众满意"}
        ).json()["status"]
        == "revisited"
    )
    events = client.get(f"/api/v1/alerts/{aid}").json()["events"]
    assert [e["action"] for e in events][:1] == ["fired"]
    assert [(e["action"], e["actor"]) for e in events if e["actor"] == "test-officer"] == [
        ("ack", "test-officer"),
        ("dispatch", "test-officer"),
        ("comment", "test-officer"),
        ("resolve", "test-officer"),
        ("revisit", "test-officer"),
    ]
    assert open_alert_counts_by_grid(services.app_db) == {}
    assert client.get("/api/v1/alerts/999").status_code == 404
    assert client.get("/api/v1/alerts", params={"status": "bogus"}).status_code == 400


def test_rules_crud_is_admin_only_validated_and_audited(client, api_keys):
    rule = {
        "name": "wage_watch",
        "type": "match",
        "severity": "warning",
        "filter": {"query": "讨薪 AND 工地 NOT 招聘"},
        "key": "street",
        "realert": "2h",
    }
    officer = {"X-API-Key": api_keys["officer"]}
    assert client.post("/api/v1/rules", json=rule, headers=officer).status_code == 403
    assert client.post("/api/v1/rules", json=rule).status_code == 201
    assert client.post("/api/v1/rules", json=rule).status_code == 409
    bad = client.put("/api/v1/rules/x", json={"type": "spike", "severity": "urgent"})
    assert bad.status_code == 400 and "severity" in bad.json()["error"]
    bad = client.put("/api/v1/rules/x", json={"type": "match", "filter": {"colour": "red"}})
    assert bad.status_code == 400 and "colour" in bad.json()["error"]
    r = client.put("/api/v1/rules/wage_watch", json={**rule, "severity": "critical"})
    assert r.json()["severity"] == "critical" and r.json()["realert"] == 7200
    names = [x["name"] for x in client.get("/api/v1/rules").json()["rules"]]
    assert names == ["wage_watch"]
    assert client.delete("/api/v1/rules/wage_watch").status_code == 200
    audit = client.get("/api/v1/rules-audit").json()["audit"]
    assert [a["action"] for a in audit][:3] == ["rule.delete", "rule.update", "rule.create"]
    assert audit[0]["actor"] == "test-admin"


def test_silences_contacts_and_stream(client, services, api_keys):
    r = client.post(
        "/api/v1/silences",
        json={
            "matchers": [{"name": "street", "value": "唐冶街道"}],
            "duration": 3600,
            "comment": "已知施工",
        },
    )
    assert r.status_code == 201
    sid = r.json()["id"]
    assert (
        client.post(
            "/api/v1/silences", json={"matchers": [{"name": "nope", "value": "x"}]}
        ).status_code
        == 400
    )
    assert (
        client.get("/api/v1/silences", params={"active": True}).json()["silences"][0]["id"] == sid
    )
    r = client.post(
        "/api/v1/contacts",
        json=[{"name": "王", "level": "grid", "grid_id": "G7", "phone": "13800138000"}],
    )
    assert r.status_code == 201
    bad = client.post("/api/v1/contacts", json={"name": "李", "level": "street", "email": "x@y.cn"})
    assert bad.status_code == 400 and "street" in bad.json()["error"]
    assert client.get("/api/v1/contacts").json()["contacts"][0]["phone"] == "13800138000"
    _fire(services)  # silenced by the street matcher, but visible
    key = api_keys["viewer"]
    with client.stream(
        "GET",
        "/api/v1/alerts/stream",
        params={"api_key": key, "since_id": 0, "max_seconds": 1},
        headers={"X-API-Key": ""},
    ) as resp:
        assert resp.status_code == 200
        body = "".join(resp.iter_text())
    assert "event: alert" in body and '"action": "fired"' in body and '"action": "silenced"' in body
    assert client.delete(f"/api/v1/silences/{sid}").status_code == 200
