"""Delivery through real receivers on loopback: aiosmtpd, SMS gateway, WeCom, DingTalk (signature
verified), Feishu, JSON webhook; SMTP down then up; a dead notification raises an operator alert."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time

import pytest

from alerts.engine import Engine
from alerts.mailcatcher import MailCatcher
from alerts.routing import import_contacts
from core.services import Services
from tests.alerts_support import DING_SECRET, Receiver, alert_settings, post

CRIT = {
    "name": "crit",
    "type": "match",
    "severity": "critical",
    "filter": {"risk": "critical"},
    "key": "grid_id",
    "description": "高风险信息",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drain(engine: Engine, until, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        engine.deliver_once()
        if until():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def catcher():
    with MailCatcher() as c:
        yield c


def test_email_and_every_webhook_format(tmp_path, catcher, monkeypatch):
    rx = Receiver()
    monkeypatch.setenv("YUQING_DINGTALK_SECRET", DING_SECRET)
    monkeypatch.setenv("YUQING_WEBHOOK_SECRET", "hook-secret")
    settings = alert_settings(
        tmp_path,
        catcher.port,
        rules=[CRIT],
        channels={"email": {"port": catcher.port}, "sms": {"url": rx.url + "/sms"}},
    )
    services = Services.open(settings)
    try:
        engine = Engine(settings, services.store)
        n, errors = import_contacts(
            engine.conn,
            [
                {
                    "name": "网格员王",
                    "level": "grid",
                    "grid_id": "G1",
                    "email": "wang@example.com",
                    "phone": "138-0013-8000",
                },
                {
                    "name": "企微群",
                    "level": "street",
                    "street": "洪家楼街道",
                    "webhook": rx.url + "/wecom",
                    "webhook_kind": "wecom",
                },
                {
                    "name": "钉钉群",
                    "level": "street",
                    "street": "洪家楼街道",
                    "webhook": rx.url + "/dingtalk?access_token=t",
                    "webhook_kind": "dingtalk",
                },
                {
                    "name": "飞书群",
                    "level": "street",
                    "street": "洪家楼街道",
                    "webhook": rx.url + "/feishu",
                    "webhook_kind": "feishu",
                },
                {
                    "name": "指挥平台",
                    "level": "district",
                    "webhook": rx.url + "/hook",
                    "webhook_kind": "webhook",
                },
            ],
            "test",
            "test",
        )
        assert errors == [] and n == 5
        p = post(
            "w:1",
            time.time() - 60,
            "<script>x</script>有人扬言到区政府门口聚集讨薪",
            grid="G1",
            street="洪家楼街道",
            risk="critical",
            category="wages",
        )
        services.store.upsert([p])
        engine.on_posts([p])
        drain(engine, lambda: len(catcher.messages) == 1 and len(rx.requests) == 5)
        msg = catcher.messages[0]
        assert msg["To"] == "wang@example.com"
        assert "【严重】" in msg["Subject"] and "高风险信息" in msg["Subject"]
        plain = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert (
            "扬言到区政府门口聚集讨薪" in plain and "http://127.0.0.1:8000/ui/#/alerts/1" in plain
        )
        assert "&lt;script&gt;" in html and "<script>" not in html
        assert msg["X-Yuqing-Idempotency-Key"]
        by_path = {r["path"]: r for r in rx.requests}
        sms = by_path["/sms"]["json"]
        assert sms["phone"] == "13800138000"
        assert all(len(s) <= 70 for s in sms["segments"]) and sms["message"].startswith("【")
        assert by_path["/wecom"]["json"]["msgtype"] == "markdown"
        assert by_path["/dingtalk"]["query"]["access_token"] == "t"  # signature checked by Receiver
        assert by_path["/feishu"]["json"]["msg_type"] == "text"
        hook = by_path["/hook"]
        sig = hmac.new(b"hook-secret", hook["raw"], hashlib.sha256).hexdigest()
        assert hook["headers"]["x-yuqing-signature"] == f"sha256={sig}"
        assert hook["headers"]["idempotency-key"] == hook["json"]["idempotency_key"]
        statuses = {r[0] for r in engine.conn.execute("SELECT status FROM alert_outbox")}
        assert statuses == {"sent"}
        # a re-processed batch sends nothing again
        engine.on_posts([p])
        engine.deliver_once()
        assert len(catcher.messages) == 1 and len(rx.requests) == 5
    finally:
        rx.close()
        services.close()


def test_dingtalk_bad_signature_is_retried_not_lost(tmp_path, monkeypatch):
    rx = Receiver()
    monkeypatch.setenv("YUQING_DINGTALK_SECRET", "wrong-secret")
    settings = alert_settings(tmp_path, rules=[CRIT])
    services = Services.open(settings)
    try:
        engine = Engine(settings, services.store)
        import_contacts(
            engine.conn,
            [
                {
                    "name": "钉钉群",
                    "level": "district",
                    "webhook": rx.url + "/dingtalk",
                    "webhook_kind": "dingtalk",
                }
            ],
            "t",
            "t",
        )
        p = post("d:1", time.time(), grid="G9", risk="critical")
        engine.on_posts([p])
        drain(engine, lambda: len(rx.requests) >= 2)
        row = engine.conn.execute("SELECT status, last_error FROM alert_outbox").fetchone()
        assert row["status"] in ("pending", "sending") and "310000" in row["last_error"]
        monkeypatch.setenv("YUQING_DINGTALK_SECRET", DING_SECRET)
        drain(
            engine,
            lambda: engine.conn.execute("SELECT status FROM alert_outbox").fetchone()[0] == "sent",
        )
    finally:
        rx.close()
        services.close()


def test_smtp_down_then_up_delivers_everything_once(tmp_path):
    port = free_port()  # nothing listens yet: connection refused
    settings = alert_settings(tmp_path, port, rules=[CRIT])
    services = Services.open(settings)
    try:
        engine = Engine(settings, services.store)
        import_contacts(
            engine.conn,
            [
                {
                    "name": f"网格员{i}",
                    "level": "grid",
                    "grid_id": f"G{i}",
                    "email": f"g{i}@example.com",
                }
                for i in range(4)
            ],
            "t",
            "t",
        )
        posts = [post(f"s:{i}", time.time(), grid=f"G{i}", risk="critical") for i in range(4)]
        engine.on_posts(posts)
        for _ in range(5):
            engine.deliver_once()
            time.sleep(0.1)
        rows = engine.conn.execute(
            "SELECT status, attempts, last_error FROM alert_outbox"
        ).fetchall()
        assert len(rows) == 4 and all(r["status"] == "pending" and r["attempts"] >= 1 for r in rows)
        assert "ConnectionRefused" in rows[0]["last_error"]
        with MailCatcher(port=port) as catcher:
            drain(engine, lambda: len(catcher.messages) >= 4)
            time.sleep(0.3)
            engine.deliver_once()
            assert sorted(m["To"] for m in catcher.messages) == [
                f"g{i}@example.com" for i in range(4)
            ]
    finally:
        services.close()


def test_dead_notification_raises_operator_alert(tmp_path):
    rx = Receiver()
    port = free_port()
    settings = alert_settings(
        tmp_path,
        port,
        rules=[CRIT],
        outbox={"backoff_initial": 0.1, "backoff_max": 0.2, "lease": 2, "dead_after": 0.5},
    )
    services = Services.open(settings)
    try:
        engine = Engine(settings, services.store)
        import_contacts(
            engine.conn,
            [
                {"name": "网格员", "level": "grid", "grid_id": "G1", "email": "g@example.com"},
                {
                    "name": "运维",
                    "level": "operator",
                    "webhook": rx.url + "/ops",
                    "webhook_kind": "webhook",
                },
            ],
            "t",
            "t",
        )
        engine.on_posts([post("x:1", time.time(), grid="G1", risk="critical")])
        drain(engine, lambda: len(rx.requests) >= 1)
        ops = rx.requests[0]["json"]
        assert ops["reason"] == "operator" and "通知发送失败" in ops["subject"]
        dead = engine.conn.execute(
            "SELECT COUNT(*) FROM alert_outbox WHERE status='dead'"
        ).fetchone()[0]
        assert dead == 1
        actions = [
            r[0] for r in engine.conn.execute("SELECT action FROM alert_events WHERE alert_id=1")
        ]
        assert "delivery_dead" in actions
    finally:
        rx.close()
        services.close()


def test_sms_rejects_invalid_numbers_at_import(tmp_path):
    settings = alert_settings(tmp_path)
    services = Services.open(settings)
    try:
        engine = Engine(settings, services.store)
        n, errors = import_contacts(
            engine.conn,
            [
                {"name": "a", "level": "district", "phone": "12345"},
                {"name": "b", "level": "district", "email": "b@example.com"},
            ],
            "t",
            "t",
        )
        assert n == 0 and "手机号码无效" in errors[0]
        assert engine.conn.execute("SELECT COUNT(*) FROM alert_contacts").fetchone()[0] == 0
    finally:
        services.close()
