"""``yuqing demo`` hook: start a local mail catcher, run the alert rules over the demo data,
deliver the notifications to it and say where they are.

The catcher listens on the configured SMTP host/port when that is loopback (default
127.0.0.1:1025) and writes every message to ``var/demo-mail/*.eml``. If the port is taken (a
standing ``yuqing alerts mailcatcher`` or another catcher), the mail goes there instead.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from alerts.routing import import_contacts, list_contacts
from store.base import Filters

log = logging.getLogger(__name__)

DEMO_CONTACTS = [
    {
        "name": "区网格化服务中心值班室",
        "role": "值班长",
        "level": "district",
        "email": "duty@licheng-grid.example",
    },
    {
        "name": "洪家楼街道网格中心",
        "role": "街道中心",
        "level": "street",
        "street": "洪家楼街道",
        "email": "hongjialou@licheng-grid.example",
    },
    {
        "name": "唐冶街道网格中心",
        "role": "街道中心",
        "level": "street",
        "street": "唐冶街道",
        "email": "tangye@licheng-grid.example",
    },
    {"name": "系统运维", "role": "运维", "level": "operator", "email": "ops@licheng-grid.example"},
]


def demo_alerts(services, args) -> None:
    from alerts.engine import Engine
    from alerts.mailcatcher import MailCatcher

    settings = services.settings
    cfg = settings.alerts
    if not cfg.enabled:
        return
    smtp = cfg.channels.email
    catcher = None
    if smtp.host in ("127.0.0.1", "localhost", "::1"):
        try:
            catcher = MailCatcher(
                "127.0.0.1", smtp.port, out_dir=settings.path("demo-mail")
            ).start()
        except (OSError, RuntimeError) as exc:
            log.info(
                "mail catcher not started (%s); using the one already on port %s", exc, smtp.port
            )
            catcher = None
    engine = Engine(settings, services.store)
    try:
        engine.sync_contacts()
        if not list_contacts(engine.conn):
            import_contacts(engine.conn, DEMO_CONTACTS, "demo", "demo")
        since = datetime.now(UTC) - timedelta(days=3)
        batch = []
        for post in services.store.iter_posts(Filters(since=since)):
            batch.append(post)
            if len(batch) == 500:
                engine.on_posts(batch)
                batch = []
        engine.on_posts(batch)
        tick = engine.tick()
        deadline = time.time() + 30
        while time.time() < deadline:
            engine.deliver_once()
            if not engine.has_pending():
                break
            time.sleep(0.5)
        conn = engine.conn
        n_open = conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE status IN ('firing','acknowledged','dispatched')"
        ).fetchone()[0]
        sent = conn.execute("SELECT COUNT(*) FROM alert_outbox WHERE status='sent'").fetchone()[0]
        print(f"alerts: {n_open} open alerts, {sent} notifications delivered")
        if not tick.get("leader"):
            print("alerts: the running service evaluates window rules (within alerts.interval)")
        for r in conn.execute(
            "SELECT id, severity, title FROM alerts ORDER BY id DESC LIMIT 8"
        ).fetchall():
            print(f"  #{r['id']} [{r['severity']}] {r['title']}")
        if catcher is not None:
            print(
                f"alerts: {len(catcher.messages)} mails caught on 127.0.0.1:{catcher.port}, "
                f"saved under {settings.path('demo-mail')}/ "
                "(keep one running with `yuqing alerts mailcatcher`)"
            )
        print(f"alerts: GET {settings.server.public_url}/api/v1/alerts?status=open")
    finally:
        engine.channels.close()
        if catcher is not None:
            catcher.stop()
